/**
 * Translation between the Responses API and the chat machinery: input items to chat messages,
 * Responses tools and text.format to chat's tools and response_format, and input items as
 * GET /v1/responses/{id}/input_items lists them.
 */
import { randomBytes } from "node:crypto";
import type { ChatCompletionRequest } from "../protocol.js";
import type { ChatHistory, StoredInputItem } from "./responses-store.js";
import type { InputItem, OutputItem, ResponseCreateRequest } from "./responses-schema.js";

/** OpenAI-style item ids: a prefix and 48 hex digits. */
export function itemId(prefix: string): string {
  return `${prefix}_${randomBytes(24).toString("hex")}`;
}

type Part = { type: "input_text" | "output_text"; text: string } | { type: "refusal"; refusal: string };

function partsText(content: string | Part[]): string {
  return typeof content === "string" ? content : content.map((p) => (p.type === "refusal" ? p.refusal : p.text)).join("\n");
}

/** The request's input as items (a string is one user message). */
export function inputItems(input: ResponseCreateRequest["input"]): InputItem[] {
  return typeof input === "string" ? [{ type: "message", role: "user", content: input }] : (input as InputItem[]);
}

/** Input items as chat messages: calls join the assistant turn before them, call outputs are tool messages. */
export function toChatMessages(items: InputItem[]): ChatHistory {
  const out: ChatHistory = [];
  for (const item of items) {
    if (item.type === "message") {
      out.push({ role: item.role, content: partsText(item.content as string | Part[]) });
    } else if (item.type === "function_call") {
      const call = { id: item.call_id, type: "function" as const, function: { name: item.name, arguments: item.arguments } };
      const last = out[out.length - 1];
      if (last?.role === "assistant") last.tool_calls = [...(last.tool_calls ?? []), call];
      else out.push({ role: "assistant", content: null, tool_calls: [call] });
    } else {
      out.push({ role: "tool", tool_call_id: item.call_id, content: partsText(item.output as string | Part[]) });
    }
  }
  return out;
}

/** The assistant turn a response's output adds to the conversation. */
export function outputToChat(output: OutputItem[]): ChatHistory {
  const text = output.flatMap((i) => (i.type === "message" ? i.content.map((p) => p.text) : [])).join("");
  const calls = output.flatMap((i) => (i.type === "function_call" ? [{ id: i.call_id, type: "function" as const, function: { name: i.name, arguments: i.arguments } }] : []));
  if (text.length === 0 && calls.length === 0) return [];
  return [{ role: "assistant", content: text.length > 0 ? text : null, ...(calls.length > 0 ? { tool_calls: calls } : {}) }];
}

/** Input items as input_items lists them: each with an id, messages with content parts. */
export function storedInputItems(items: InputItem[]): StoredInputItem[] {
  return items.map((item): StoredInputItem => {
    if (item.type === "message") {
      const kind = item.role === "assistant" ? "output_text" : "input_text";
      const content = typeof item.content === "string" ? [{ type: kind, text: item.content }] : item.content;
      return { id: item.id ?? itemId("msg"), type: "message", role: item.role, content, status: item.status ?? "completed" };
    }
    if (item.type === "function_call") return { ...item, id: item.id ?? itemId("fc"), status: item.status ?? "completed" };
    return { ...item, id: item.id ?? itemId("fco"), status: item.status ?? "completed" };
  });
}

/** The chat fields that decide tools and output format, from a Responses request. */
export function chatToolFields(body: ResponseCreateRequest): Pick<ChatCompletionRequest, "tools" | "tool_choice" | "parallel_tool_calls" | "response_format"> {
  const functions = (body.tools ?? []).flatMap((t) => (t.type === "function" ? [t] : []));
  const tools = functions.map((t) => ({
    type: "function" as const,
    function: { name: t.name, ...(t.description != null ? { description: t.description } : {}), ...(t.parameters != null ? { parameters: t.parameters } : {}), strict: t.strict ?? null },
  }));
  const choice = body.tool_choice;
  let toolChoice: ChatCompletionRequest["tool_choice"];
  if (choice == null || (typeof choice === "object" && choice.type === "file_search")) toolChoice = functions.length > 0 ? "auto" : "none";
  else if (typeof choice === "string") toolChoice = functions.length > 0 ? choice : "none";
  else toolChoice = { type: "function", function: { name: choice.name } };
  const format = body.text?.format;
  let responseFormat: ChatCompletionRequest["response_format"];
  if (format?.type === "json_object") responseFormat = { type: "json_object" };
  else if (format?.type === "json_schema") {
    responseFormat = { type: "json_schema", json_schema: { name: format.name, schema: format.schema, strict: format.strict ?? null, ...(format.description ? { description: format.description } : {}) } };
  }
  return { tools, tool_choice: toolChoice, parallel_tool_calls: body.parallel_tool_calls ?? true, ...(responseFormat ? { response_format: responseFormat } : {}) };
}
