/**
 * A response being generated: its stream events in OpenAI's order (each with a rising
 * sequence_number), the output items they build, and the listeners that stream them. The same
 * events serve a live stream, a stream resumed later (GET …?stream=true&starting_after=N) and a
 * plain JSON answer, so all three agree.
 */
import type { ToolEvent } from "./tool-calls.js";
import { itemId } from "./responses-convert.js";
import type { Annotation, FileSearchCall, FunctionCallOutputItem, OutputItem, OutputMessage, ResponseObject } from "./responses-schema.js";

export type StreamEvent = { type: string; sequence_number: number } & Record<string, unknown>;
type Listener = (event: StreamEvent) => void;

export class ResponseEvents {
  readonly events: StreamEvent[] = [];
  private readonly listeners = new Set<Listener>();
  private finished = false;

  emit(type: string, fields: Record<string, unknown> = {}): void {
    const event = { type, sequence_number: this.events.length, ...fields } as StreamEvent;
    this.events.push(event);
    for (const l of this.listeners) l(event);
  }

  /** Calls `listener` with the events after `startingAfter` (all with -1), then with each new one; `onEnd` once the last is sent. */
  subscribe(startingAfter: number, listener: Listener, onEnd: () => void): () => void {
    for (const e of this.events) if (e.sequence_number > startingAfter) listener(e);
    if (this.finished) {
      onEnd();
      return () => {};
    }
    const wrapped: Listener = (e) => listener(e);
    this.listeners.add(wrapped);
    this.ends.push(onEnd);
    return () => this.listeners.delete(wrapped);
  }

  private readonly ends: (() => void)[] = [];

  /** No more events: listeners are told and dropped. */
  finish(): void {
    this.finished = true;
    this.listeners.clear();
    for (const end of this.ends.splice(0)) end();
  }
}

/** A deep copy, so that a snapshot sent in an event does not change afterwards. */
function copy<T>(value: T): T {
  return structuredClone(value);
}

/**
 * Builds the output items from the tool-call parser's events and sends the item, part, delta
 * and done events for each: text opens a message item, a call closes it and opens a function_call item.
 */
export class OutputBuilder {
  readonly output: OutputItem[] = [];
  private message: OutputMessage | undefined;
  private call: FunctionCallOutputItem | undefined;
  private pendingLogprobs: unknown[] = [];

  constructor(private readonly events: ResponseEvents, private readonly withLogprobs: boolean) {}

  private get index(): number {
    return this.output.length - 1;
  }

  /** A file_search call, finished before generation starts (its results went into the prompt). */
  fileSearch(call: FileSearchCall, includeResults: boolean): void {
    const shown: FileSearchCall = { ...call, status: "in_progress", results: null };
    this.output.push(shown);
    this.events.emit("response.output_item.added", { output_index: this.index, item: copy(shown) });
    this.events.emit("response.file_search_call.in_progress", { output_index: this.index, item_id: call.id });
    this.events.emit("response.file_search_call.searching", { output_index: this.index, item_id: call.id });
    this.events.emit("response.file_search_call.completed", { output_index: this.index, item_id: call.id });
    Object.assign(shown, { status: "completed", results: includeResults ? call.results : null });
    this.events.emit("response.output_item.done", { output_index: this.index, item: copy(shown) });
  }

  /** Token logprobs of the text that comes next. */
  logprobs(entries: unknown[]): void {
    if (this.withLogprobs) this.pendingLogprobs.push(...entries);
  }

  push(events: ToolEvent[]): void {
    for (const e of events) {
      if (e.kind === "content") this.text(e.text);
      else if (e.kind === "call") this.startCall(e.id, e.name);
      else if (this.call) {
        this.call.arguments += e.text;
        this.events.emit("response.function_call_arguments.delta", { item_id: this.call.id, output_index: this.index, delta: e.text });
      }
    }
  }

  private text(delta: string): void {
    if (!this.message) {
      this.closeCall("completed");
      this.message = { id: itemId("msg"), type: "message", status: "in_progress", role: "assistant", content: [] };
      this.output.push(this.message);
      this.events.emit("response.output_item.added", { output_index: this.index, item: copy(this.message) });
      const part = { type: "output_text" as const, text: "", annotations: [], ...(this.withLogprobs ? { logprobs: [] } : {}) };
      this.message.content.push(part);
      this.events.emit("response.content_part.added", { item_id: this.message.id, output_index: this.index, content_index: 0, part: copy(part) });
    }
    const part = this.message.content[0]!;
    part.text += delta;
    const logprobs = this.pendingLogprobs.splice(0);
    if (part.logprobs) part.logprobs.push(...logprobs);
    this.events.emit("response.output_text.delta", { item_id: this.message.id, output_index: this.index, content_index: 0, delta, logprobs });
  }

  private startCall(callId: string, name: string): void {
    this.closeMessage("completed", []);
    this.closeCall("completed");
    this.call = { id: itemId("fc"), type: "function_call", status: "in_progress", call_id: callId, name, arguments: "" };
    this.output.push(this.call);
    this.events.emit("response.output_item.added", { output_index: this.index, item: copy(this.call) });
  }

  private closeCall(status: FunctionCallOutputItem["status"]): void {
    const call = this.call;
    if (!call) return;
    this.call = undefined;
    const index = this.output.indexOf(call);
    call.status = status;
    this.events.emit("response.function_call_arguments.done", { item_id: call.id, output_index: index, name: call.name, arguments: call.arguments });
    this.events.emit("response.output_item.done", { output_index: index, item: copy(call) });
  }

  private closeMessage(status: OutputMessage["status"], annotations: Annotation[]): void {
    const message = this.message;
    if (!message) return;
    this.message = undefined;
    const index = this.output.indexOf(message);
    const part = message.content[0]!;
    for (const a of annotations) {
      const annotation = { ...a, index: part.text.length };
      this.events.emit("response.output_text.annotation.added", { item_id: message.id, output_index: index, content_index: 0, annotation_index: part.annotations.length, annotation });
      part.annotations.push(annotation);
    }
    this.events.emit("response.output_text.done", { item_id: message.id, output_index: index, content_index: 0, text: part.text, logprobs: part.logprobs ?? [] });
    this.events.emit("response.content_part.done", { item_id: message.id, output_index: index, content_index: 0, part: copy(part) });
    message.status = status;
    this.events.emit("response.output_item.done", { output_index: index, item: copy(message) });
  }

  /** Closes the open items; `annotations` (citations) go at the end of the last message's text. */
  finish(status: "completed" | "incomplete", annotations: Annotation[] = []): void {
    this.closeMessage(status, annotations);
    this.closeCall(status);
  }
}

/** The response as `response.*` lifecycle events carry it. */
export function snapshot(response: ResponseObject): ResponseObject {
  return copy(response);
}
