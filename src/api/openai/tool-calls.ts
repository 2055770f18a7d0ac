/**
 * Tool calling. Tools reach the model through its chat template when the template renders them
 * in the `<tool_call>` (Hermes/Qwen) format, otherwise through a generic system prompt that
 * teaches that format. The output is parsed back into calls incrementally, so streaming sends
 * OpenAI's `delta.tool_calls` fragments. A forced call (tool_choice `required` or a named
 * function) is grammar-enforced: it always parses and matches the tool's parameter schema.
 */
import { randomBytes } from "node:crypto";
import type { ChatMessage, Engine, GrammarSpec } from "../../engine/types.js";
import { ApiError } from "../errors.js";
import { renderChat } from "../generation.js";
import { convertJsonSchema } from "./json-schema.js";
import type { ChatCompletionRequest, FunctionTool, ToolCallOut } from "../protocol.js";

export const TOOL_CALL_OPEN = "<tool_call>";
export const TOOL_CALL_CLOSE = "</tool_call>";

export interface ToolPlan {
  /** Tools offered to the model (none when tool_choice is "none"). */
  tools: FunctionTool[];
  /** none: plain text; auto: the model may call; forced: the output is one or more calls. */
  mode: "none" | "auto" | "forced";
  /** Several calls in one answer (OpenAI's parallel_tool_calls, default true). */
  parallel: boolean;
  /** The model's template renders the tools itself; otherwise they go into a system prompt. */
  viaTemplate: boolean;
  /** For forced calls: the grammar every call is generated under. */
  grammar?: GrammarSpec;
}

type Body = Pick<ChatCompletionRequest, "tools" | "tool_choice" | "parallel_tool_calls" | "response_format" | "guided_json" | "guided_choice" | "guided_regex" | "guided_grammar">;

/** Decides how a request's tools are offered and enforced. Bad tool schemas are 400s. */
export function planTools(engine: Engine, body: Body): ToolPlan {
  const all = body.tools ?? [];
  const choice = body.tool_choice ?? (all.length > 0 ? "auto" : "none");
  const parallel = body.parallel_tool_calls ?? true;
  const viaTemplate = engine.info.templateToolCalls;
  if (choice === "none" || all.length === 0) return { tools: [], mode: "none", parallel, viaTemplate };
  if (choice === "auto") return { tools: all, mode: "auto", parallel, viaTemplate };
  const constrained = ["response_format", "guided_json", "guided_choice", "guided_regex", "guided_grammar"].find(
    (k) => body[k as keyof Body] != null && !(k === "response_format" && body.response_format?.type === "text"),
  );
  if (constrained) throw ApiError.invalid(`tool_choice "${typeof choice === "string" ? choice : "function"}" forces a tool call and cannot be combined with ${constrained}`, "tool_choice");
  const forced = typeof choice === "object" ? all.filter((t) => t.function.name === choice.function.name) : all;
  return {
    tools: all,
    mode: "forced",
    parallel,
    viaTemplate,
    grammar: { kind: "wrapped_json", schema: callSchema(forced, all), open: `${TOOL_CALL_OPEN}\n`, close: `\n${TOOL_CALL_CLOSE}`, separator: "\n", repeat: parallel && typeof choice !== "object" },
  };
}

/** The JSON schema of one call: `{"name": <one of the tools>, "arguments": <that tool's parameters>}`. */
function callSchema(tools: FunctionTool[], all: FunctionTool[]): Record<string, unknown> {
  const $defs: Record<string, unknown> = {};
  const variants = tools.map((tool) => {
    const index = all.indexOf(tool);
    const param = `tools[${index}].function.parameters`;
    const converted = convertJsonSchema(tool.function.parameters ?? { type: "object", properties: {} }, param);
    const parameters = hoistDefs(converted, `t${index}_`, $defs);
    return {
      type: "object",
      properties: { name: { const: tool.function.name }, arguments: parameters },
      required: ["name", "arguments"],
      additionalProperties: false,
    };
  });
  return { ...(variants.length === 1 ? variants[0] : { oneOf: variants }), ...(Object.keys($defs).length > 0 ? { $defs } : {}) };
}

/** Moves a tool schema's $defs to the root of the call schema under prefixed names, rewriting its $refs. */
function hoistDefs(schema: Record<string, unknown>, prefix: string, into: Record<string, unknown>): Record<string, unknown> {
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (!value || typeof value !== "object") return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === "$defs") continue;
      out[k] = k === "$ref" && typeof v === "string" ? v.replace(/^#\/\$defs\//, `#/$defs/${prefix}`) : rewrite(v);
    }
    return out;
  };
  for (const [name, def] of Object.entries((schema.$defs as Record<string, unknown> | undefined) ?? {})) into[prefix + name] = rewrite(def);
  return rewrite(schema) as Record<string, unknown>;
}

/** The system prompt that teaches tools to a model whose template does not render them. */
export function genericToolPrompt(tools: FunctionTool[]): string {
  return [
    "# Tools",
    "",
    "You may call one or more functions to assist with the user query.",
    "",
    "You are provided with function signatures within <tools></tools> XML tags:",
    "<tools>",
    ...tools.map((t) => JSON.stringify(t)),
    "</tools>",
    "",
    "For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:",
    "<tool_call>",
    '{"name": <function-name>, "arguments": <args-json-object>}',
    "</tool_call>",
  ].join("\n");
}

function messageText(content: ChatCompletionRequest["messages"][number]["content"]): string {
  if (content == null) return "";
  return typeof content === "string" ? content : content.map((p) => p.text).join("\n");
}

function parseArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * OpenAI chat messages as the chat template sees them. Calls and tool results go to templates
 * that know tools in Hugging Face's convention; for the others they are written out in the
 * `<tool_call>` / `<tool_response>` text format, tool results as user turns.
 */
export function templateMessages(messages: ChatCompletionRequest["messages"], plan?: Pick<ToolPlan, "tools" | "viaTemplate">): ChatMessage[] {
  const viaTemplate = plan?.viaTemplate ?? false;
  const out: ChatMessage[] = [];
  for (const m of messages) {
    const content = messageText(m.content);
    if (m.role === "tool") {
      if (viaTemplate) {
        out.push({ role: "tool", content, tool_call_id: m.tool_call_id });
        continue;
      }
      const response = `<tool_response>\n${content}\n</tool_response>`;
      const last = out[out.length - 1];
      if (last?.role === "user" && last.content.endsWith("</tool_response>")) last.content += `\n${response}`;
      else out.push({ role: "user", content: response });
      continue;
    }
    const calls = m.role === "assistant" ? (m.tool_calls ?? []) : [];
    const message: ChatMessage = { role: m.role, content, ...("name" in m && m.name ? { name: m.name } : {}) };
    if (calls.length > 0 && viaTemplate) {
      message.tool_calls = calls.map((c) => ({ id: c.id, type: "function", function: { name: c.function.name, arguments: parseArguments(c.function.arguments) } }));
    } else if (calls.length > 0) {
      const written = calls.map((c) => `${TOOL_CALL_OPEN}\n${JSON.stringify({ name: c.function.name, arguments: parseArguments(c.function.arguments) })}\n${TOOL_CALL_CLOSE}`);
      message.content = [content, ...written].filter((s) => s.length > 0).join("\n");
    }
    out.push(message);
  }
  const tools = plan?.tools ?? [];
  if (tools.length > 0 && !viaTemplate) {
    const prompt = genericToolPrompt(tools);
    const first = out[0];
    if (first && (first.role === "system" || first.role === "developer")) first.content = `${first.content}\n\n${prompt}`;
    else out.unshift({ role: "system", content: prompt });
  }
  return out;
}

/** The prompt for a conversation: messages and, when the plan offers tools, the tools. */
export function renderConversation(engine: Engine, messages: ChatCompletionRequest["messages"], plan: ToolPlan): string {
  return renderChat(engine, templateMessages(messages, plan), plan.viaTemplate && plan.tools.length > 0 ? { tools: plan.tools } : undefined);
}

/** What the parser found in the text so far, in order. */
export type ToolEvent =
  | { kind: "content"; text: string }
  | { kind: "call"; index: number; id: string; name: string }
  | { kind: "arguments"; index: number; text: string };

interface CallInProgress {
  /** Whitespace before the block: content again if the block turns out not to be a call. */
  leading: string;
  body: string;
  index: number;
  /** Once `{"name": "...", "arguments": ` is seen: the call's id and name, and where the arguments start. */
  header?: { id: string; name: string; length: number };
  /** Arguments text sent so far. */
  sent: string;
  /** A call beyond what parallel_tool_calls allows: parsed, then dropped. */
  dropped: boolean;
}

const HEADER = /^\s*\{\s*"name"\s*:\s*("(?:[^"\\]|\\.)*")\s*,\s*"(?:arguments|parameters)"\s*:\s*(?=\{)/;

function newCallId(): string {
  return `call_${randomBytes(12).toString("hex")}`;
}

/** Length of the longest end of `text` that begins `tag` (text that may become the tag). */
function partialTagAtEnd(text: string, tag: string): number {
  for (let n = Math.min(tag.length - 1, text.length); n > 0; n--) if (text.endsWith(tag.slice(0, n))) return n;
  return 0;
}

function tryParse(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/**
 * Splits generated text into content and `<tool_call>` blocks as it arrives. Arguments stream as
 * they are written when the model writes the name first; a block that turns out not to be a call
 * of a known tool is content. Fed all at once it gives what streaming gives in pieces.
 */
export class ToolCallParser {
  readonly calls: ToolCallOut[] = [];
  /** A call was cut off by the end of generation. */
  truncated = false;
  private buffer = "";
  private call: CallInProgress | undefined;
  private started = 0;
  /** Whitespace held back: sent once more content follows, dropped around calls. */
  private space = "";

  constructor(private readonly toolNames: ReadonlySet<string>, private readonly maxCalls: number) {}

  push(text: string): ToolEvent[] {
    this.buffer += text;
    return this.drain(false);
  }

  /** The end of generation: whatever is held back is resolved. */
  end(): ToolEvent[] {
    const events = this.drain(true);
    if (this.calls.length === 0 && this.space.length > 0) events.push({ kind: "content", text: this.space });
    this.space = "";
    return events;
  }

  private drain(final: boolean): ToolEvent[] {
    const events: ToolEvent[] = [];
    for (;;) {
      if (!this.call) {
        const at = this.buffer.indexOf(TOOL_CALL_OPEN);
        if (at >= 0) {
          this.content(this.buffer.slice(0, at), events);
          this.buffer = this.buffer.slice(at + TOOL_CALL_OPEN.length);
          this.call = { leading: this.space, body: "", index: this.started, sent: "", dropped: this.started >= this.maxCalls };
          this.space = "";
          continue;
        }
        const keep = final ? 0 : partialTagAtEnd(this.buffer, TOOL_CALL_OPEN);
        this.content(this.buffer.slice(0, this.buffer.length - keep), events);
        this.buffer = this.buffer.slice(this.buffer.length - keep);
        return events;
      }
      const at = this.buffer.indexOf(TOOL_CALL_CLOSE);
      const take = at >= 0 ? at : this.buffer.length - (final ? 0 : partialTagAtEnd(this.buffer, TOOL_CALL_CLOSE));
      this.call.body += this.buffer.slice(0, take);
      this.buffer = this.buffer.slice(at >= 0 ? at + TOOL_CALL_CLOSE.length : take);
      this.stream(this.call, events);
      if (at < 0 && !final) return events;
      this.finish(this.call, at >= 0, events);
      this.call = undefined;
      if (at < 0) return events;
    }
  }

  /** Sends content up to its last non-space character; the whitespace after it waits for what follows. */
  private content(text: string, events: ToolEvent[]): void {
    this.space += text;
    const end = this.space.trimEnd().length;
    if (end > 0) {
      events.push({ kind: "content", text: this.space.slice(0, end) });
      this.space = this.space.slice(end);
    }
  }

  /** Sends the call's name once known, then the arguments text that can no longer change. */
  private stream(call: CallInProgress, events: ToolEvent[]): void {
    if (call.dropped) return;
    if (!call.header) {
      const m = HEADER.exec(call.body);
      const name = m ? tryParse(m[1]!) : undefined;
      if (!m || !name?.ok || typeof name.value !== "string" || !this.toolNames.has(name.value)) return;
      call.header = { id: newCallId(), name: name.value, length: m[0].length };
      this.started++;
      events.push({ kind: "call", index: call.index, id: call.header.id, name: name.value });
    }
    // Closing braces and whitespace at the end may belong to the enclosing object: held back.
    const safe = call.body.slice(call.header.length).replace(/[\s}]*$/, "");
    if (safe.length > call.sent.length) {
      events.push({ kind: "arguments", index: call.index, text: safe.slice(call.sent.length) });
      call.sent = safe;
    }
  }

  private finish(call: CallInProgress, closed: boolean, events: ToolEvent[]): void {
    if (call.dropped) return;
    const parsed = parseCall(call.body, this.toolNames);
    if (call.header) {
      // Streamed: the arguments end where the enclosing object's closing brace begins.
      const rest = call.body.slice(call.header.length);
      const raw = rest.replace(/\s*\}\s*$/, "");
      let text: string;
      if (parsed) text = tryParse(raw).ok ? raw : JSON.stringify(parsed.args);
      else {
        text = rest.trimEnd();
        this.truncated = true;
      }
      if (text.startsWith(call.sent) && text.length > call.sent.length) events.push({ kind: "arguments", index: call.index, text: text.slice(call.sent.length) });
      this.calls.push({ id: call.header.id, type: "function", function: { name: call.header.name, arguments: text } });
      return;
    }
    if (!parsed) {
      this.content(`${call.leading}${TOOL_CALL_OPEN}${call.body}${closed ? TOOL_CALL_CLOSE : ""}`, events);
      return;
    }
    const id = newCallId();
    const text = JSON.stringify(parsed.args);
    this.started++;
    events.push({ kind: "call", index: call.index, id, name: parsed.name }, { kind: "arguments", index: call.index, text });
    this.calls.push({ id, type: "function", function: { name: parsed.name, arguments: text } });
  }
}

/** A block's call, when it is `{"name": <known tool>, "arguments" (or "parameters"): <object or JSON text of one>}`. */
function parseCall(body: string, toolNames: ReadonlySet<string>): { name: string; args: Record<string, unknown> } | undefined {
  const parsed = tryParse(body.trim());
  if (!parsed.ok || !isObject(parsed.value)) return undefined;
  const { name } = parsed.value;
  let args = parsed.value.arguments ?? parsed.value.parameters;
  if (typeof args === "string") {
    const inner = tryParse(args);
    args = inner.ok ? inner.value : undefined;
  }
  return typeof name === "string" && toolNames.has(name) && isObject(args) ? { name, args } : undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
