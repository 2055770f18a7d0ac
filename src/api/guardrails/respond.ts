/**
 * The answer to a request an input rail blocked, in the shape of the endpoint it came to
 * (chat completion, text completion or Anthropic message), streamed or not: the configuration's
 * refusal, finish_reason "content_filter" (Anthropic: stop_reason "refusal"), no generation.
 */
import type { FastifyReply } from "fastify";
import { newId, SYSTEM_FINGERPRINT } from "../generation.js";
import { SseWriter } from "../sse.js";
import type { Endpoint } from "./bodies.js";

export function sendRefusal(reply: FastifyReply, endpoint: Endpoint, options: { model: string; refusal: string; stream: boolean; data: unknown }): FastifyReply {
  const created = Math.floor(Date.now() / 1000);
  const { model, refusal, data } = options;
  if (endpoint === "messages") {
    const id = newId("msg");
    const usage = { input_tokens: 0, output_tokens: 0 };
    if (!options.stream) {
      return reply.send({ id, type: "message", role: "assistant", model, content: [{ type: "text", text: refusal }], stop_reason: "refusal", stop_sequence: null, usage, guardrails_data: data });
    }
    const sse = new SseWriter(reply);
    sse.open();
    sse.event("message_start", { type: "message_start", message: { id, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage }, guardrails_data: data });
    sse.event("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
    sse.event("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: refusal } });
    sse.event("content_block_stop", { type: "content_block_stop", index: 0 });
    sse.event("message_delta", { type: "message_delta", delta: { stop_reason: "refusal", stop_sequence: null }, usage: { output_tokens: 0 } });
    sse.event("message_stop", { type: "message_stop" });
    sse.end();
    return reply;
  }
  const chat = endpoint === "chat";
  const id = newId(chat ? "chatcmpl" : "cmpl");
  const base = { id, object: chat ? "chat.completion" : "text_completion", created, model, system_fingerprint: SYSTEM_FINGERPRINT };
  const usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  if (!options.stream) {
    const choice = chat
      ? { index: 0, message: { role: "assistant", content: refusal }, logprobs: null, finish_reason: "content_filter" }
      : { index: 0, text: refusal, logprobs: null, finish_reason: "content_filter" };
    return reply.send({ ...base, choices: [choice], usage, guardrails_data: data });
  }
  const sse = new SseWriter(reply);
  sse.open();
  const streamBase = { ...base, object: chat ? "chat.completion.chunk" : "text_completion" };
  if (chat) {
    sse.send({ ...streamBase, choices: [{ index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null }], guardrails_data: data });
    sse.send({ ...streamBase, choices: [{ index: 0, delta: { content: refusal }, logprobs: null, finish_reason: null }] });
    sse.send({ ...streamBase, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "content_filter" }] });
  } else {
    sse.send({ ...streamBase, choices: [{ index: 0, text: refusal, logprobs: null, finish_reason: null }], guardrails_data: data });
    sse.send({ ...streamBase, choices: [{ index: 0, text: "", logprobs: null, finish_reason: "content_filter" }] });
  }
  sse.done();
  return reply;
}
