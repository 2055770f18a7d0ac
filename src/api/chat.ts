/** POST /v1/chat/completions: messages rendered with the model's chat template, streamed or not. */
import type { FastifyInstance } from "fastify";
import type { ChatMessage, GenerationResult, TokenLogprob } from "../engine/types.js";
import { chatLogprobs } from "./logprobs.js";
import { requestGrammar } from "./guided.js";
import { cancellation, finishReason, newId, renderChat, resolveModel, startAll, SYSTEM_FINGERPRINT, toGenerationRequest, usageOf, type Choice } from "./generation.js";
import { chatCompletionRequestSchema, type ChatCompletionChunk, type ChatCompletionRequest, type ChatCompletionResponse } from "./protocol.js";
import { untilExpired } from "./limits.js";
import { SseWriter } from "./sse.js";
import { parseBody, requireEngine, type ServerState } from "./state.js";
import { streamChoices } from "./streaming.js";

function messageText(content: ChatCompletionRequest["messages"][number]["content"]): string {
  if (content == null) return "";
  return typeof content === "string" ? content : content.map((p) => p.text).join("\n");
}

/** OpenAI chat messages as the chat template sees them. */
export function templateMessages(messages: ChatCompletionRequest["messages"]): ChatMessage[] {
  return messages.map((m) => ({ role: m.role, content: messageText(m.content), ...(m.name ? { name: m.name } : {}) }));
}

export function registerChatRoutes(app: FastifyInstance, state: ServerState): void {
  app.post("/v1/chat/completions", async (request, reply) => {
    const engine = requireEngine(state);
    const body = parseBody(chatCompletionRequestSchema, request.body);
    const model = resolveModel(engine, body.model);
    const promptTokens = engine.tokenize(renderChat(engine, templateMessages(body.messages)));
    const n = body.n ?? 1;
    const cancel = cancellation(request, reply);
    const logprobs = body.logprobs ? { top: body.top_logprobs ?? 0 } : undefined;
    const grammar = await requestGrammar(engine, body);
    const requests = Array.from({ length: n }, (_, choice) => toGenerationRequest(engine, body, promptTokens, { choice, signal: cancel.signal, promptParam: "messages", logprobs, grammar, limits: state.limits }));
    const choices = startAll(engine, requests, cancel, request.tokenBudget);

    const id = newId("chatcmpl");
    const created = Math.floor(Date.now() / 1000);
    const includeUsage = body.stream_options?.include_usage === true;
    if (body.stream) {
      const base = { id, object: "chat.completion.chunk" as const, created, model, system_fingerprint: SYSTEM_FINGERPRINT, ...(includeUsage ? { usage: null } : {}) };
      const chunk = (index: number, delta: ChatCompletionChunk["choices"][number]["delta"], finish: GenerationResult | null, entries?: TokenLogprob[]): ChatCompletionChunk => ({
        ...base,
        choices: [{ index, delta, logprobs: entries ? chatLogprobs(entries) : null, finish_reason: finish ? finishReason(finish) : null }],
      });
      const sse = new SseWriter(reply);
      sse.open();
      for (const c of choices) sse.send(chunk(c.index, { role: "assistant", content: "" }, null));
      await streamChoices(sse, choices, cancel, {
        piece: (c: Choice, piece) => chunk(c.index, { content: piece.text }, null, piece.logprobs),
        end: (c: Choice, r) => chunk(c.index, {}, r),
        usage: includeUsage ? (results) => ({ ...base, choices: [], usage: usageOf(results, () => 0) }) : undefined,
      });
      return reply;
    }

    const results = await untilExpired(request, Promise.all(choices.map((c) => c.stream.result)));
    const response: ChatCompletionResponse = {
      id,
      object: "chat.completion",
      created,
      model,
      system_fingerprint: SYSTEM_FINGERPRINT,
      choices: results.map((r, index) => ({ index, message: { role: "assistant", content: r.text }, logprobs: r.logprobs ? chatLogprobs(r.logprobs) : null, finish_reason: finishReason(r) })),
      usage: usageOf(results, () => 0),
    };
    return response;
  });
}
