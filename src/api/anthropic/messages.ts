/**
 * Anthropic's Messages API: POST /v1/messages (streamed as message_start … message_stop events)
 * and POST /v1/messages/count_tokens. Errors use Anthropic's shape, which its clients expect.
 */
import type { FastifyInstance } from "fastify";
import type { ChatMessage, GenerationResult } from "../../engine/types.js";
import { errorHandlerWith, toApiError, type ApiError } from "../errors.js";
import { awaitStarted, cancellation, newId, renderChat, startAll, toGenerationRequest } from "../generation.js";
import {
  anthropicCountTokensRequestSchema,
  anthropicMessagesRequestSchema,
  type AnthropicMessage,
  type AnthropicMessagesRequest,
  type AnthropicStopReason,
} from "../protocol.js";
import { untilExpired } from "../security/limits.js";
import { SseWriter } from "../sse.js";
import { parseBody, type ServerState } from "../state.js";
import { useChatModel } from "../targets.js";
import { guardTarget } from "../guardrails/hooks.js";

const ERROR_TYPES: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  413: "request_too_large",
  429: "rate_limit_error",
  503: "overloaded_error",
};

/** An error in Anthropic's shape: `{type:"error", error:{type, message}}`. */
export function anthropicError(err: ApiError): { type: "error"; error: { type: string; message: string } } {
  return { type: "error", error: { type: ERROR_TYPES[err.status] ?? (err.status < 500 ? "invalid_request_error" : "api_error"), message: err.message } };
}

const anthropicErrorHandler = errorHandlerWith(anthropicError);

type Blocks = string | { type: string; text?: unknown }[];
const blocksText = (content: Blocks): string => (typeof content === "string" ? content : content.map((b) => String(b.text ?? "")).join("\n"));

function chatMessages(body: { system?: Blocks; messages: { role: string; content: Blocks }[] }): ChatMessage[] {
  const out: ChatMessage[] = [];
  if (body.system !== undefined) out.push({ role: "system", content: blocksText(body.system) });
  for (const m of body.messages) out.push({ role: m.role, content: blocksText(m.content) });
  return out;
}

function stopReason(r: GenerationResult): AnthropicStopReason {
  if (r.finishReason === "length") return "max_tokens";
  return r.stopSequence !== undefined ? "stop_sequence" : "end_turn";
}

export function registerMessagesRoutes(app: FastifyInstance, state: ServerState): void {
  app.post("/v1/messages", { errorHandler: anthropicErrorHandler }, async (request, reply) => {
    const body: AnthropicMessagesRequest = parseBody(anthropicMessagesRequestSchema, request.body);
    const { engine, id: model, adapter } = guardTarget(request, await useChatModel(state, reply, body.model));
    const promptTokens = engine.tokenize(renderChat(engine, chatMessages(body)));
    const cancel = cancellation(request, reply);
    const generation = toGenerationRequest(
      engine,
      { temperature: body.temperature ?? 1, top_p: body.top_p, top_k: body.top_k, stop: body.stop_sequences, max_tokens: body.max_tokens },
      promptTokens,
      { choice: 0, signal: cancel.signal, promptParam: "messages", adapter, limits: state.limits, client: request.apiKey?.name },
    );
    const [choice] = startAll(engine, [generation], cancel, request.tokenBudget);
    const id = newId("msg");
    const usage = (r: GenerationResult | undefined) => ({ input_tokens: promptTokens.length, output_tokens: r?.completionTokens ?? 0, cache_read_input_tokens: r?.cachedTokens ?? 0 });

    if (!body.stream) {
      const r = await untilExpired(request, choice!.stream.result);
      const message: AnthropicMessage = {
        id, type: "message", role: "assistant", model,
        content: [{ type: "text", text: r.text }],
        stop_reason: stopReason(r),
        stop_sequence: r.stopSequence ?? null,
        usage: usage(r),
      };
      return message;
    }

    await awaitStarted(request, [choice!], cancel);
    const sse = new SseWriter(reply);
    sse.open();
    sse.event("message_start", {
      type: "message_start",
      message: { id, type: "message", role: "assistant", model, content: [], stop_reason: null, stop_sequence: null, usage: usage(undefined) },
    });
    sse.event("content_block_start", { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
    sse.event("ping", { type: "ping" });
    try {
      const r = await untilExpired(request, (async () => {
        for await (const { text } of choice!.stream) {
          if (text) sse.event("content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } });
        }
        return choice!.stream.result;
      })());
      sse.event("content_block_stop", { type: "content_block_stop", index: 0 });
      sse.event("message_delta", { type: "message_delta", delta: { stop_reason: stopReason(r), stop_sequence: r.stopSequence ?? null }, usage: { output_tokens: r.completionTokens } });
      sse.event("message_stop", { type: "message_stop" });
    } catch (err) {
      cancel.abort();
      sse.event("error", anthropicError(toApiError(err)));
    }
    sse.end();
    return reply;
  });

  app.post("/v1/messages/count_tokens", { errorHandler: anthropicErrorHandler }, async (request, reply) => {
    const body = parseBody(anthropicCountTokensRequestSchema, request.body);
    const { engine } = await useChatModel(state, reply, body.model);
    return { input_tokens: engine.tokenize(renderChat(engine, chatMessages(body))).length };
  });
}
