/** POST /v1/completions: raw prompts (a string or an array of strings), streamed or not. */
import type { FastifyInstance } from "fastify";
import type { GenerationPiece, GenerationResult } from "../../engine/types.js";
import { completionLogprobs } from "./logprobs.js";
import { requestGrammar } from "./guided.js";
import { ApiError } from "../errors.js";
import { awaitStarted, cancellation, finishReason, newId, startAll, SYSTEM_FINGERPRINT, toGenerationRequest, usageOf, type Choice } from "../generation.js";
import { completionRequestSchema, type CompletionResponse } from "../protocol.js";
import { untilExpired } from "../security/limits.js";
import { SseWriter } from "../sse.js";
import { parseBody, type ServerState } from "../state.js";
import { useChatModel } from "../targets.js";
import { guardTarget } from "../guardrails/hooks.js";
import { streamChoices } from "./streaming.js";

export function registerCompletionRoutes(app: FastifyInstance, state: ServerState): void {
  app.post("/v1/completions", async (request, reply) => {
    const body = parseBody(completionRequestSchema, request.body);
    const { engine, id: model, adapter } = guardTarget(request, await useChatModel(state, reply, body.model, body.keep_alive));
    const prompts = typeof body.prompt === "string" ? [body.prompt] : body.prompt;
    const n = body.n ?? 1;
    const cancel = cancellation(request, reply);
    const logprobs = body.logprobs != null ? { top: body.logprobs } : undefined;
    const grammar = await requestGrammar(engine, body);
    const requests = prompts.flatMap((p, pi) => {
      const tokens = engine.tokenize(p);
      if (tokens.length === 0) throw ApiError.invalid(`Invalid value for 'prompt': the prompt is empty`, prompts.length > 1 ? `prompt.${pi}` : "prompt");
      return Array.from({ length: n }, (_, choice) =>
        toGenerationRequest(engine, body, tokens, { choice, signal: cancel.signal, promptParam: prompts.length > 1 ? `prompt.${pi}` : "prompt", logprobs, grammar, adapter, limits: state.limits, client: request.apiKey?.name }),
      );
    });
    const choices = startAll(engine, requests, cancel, request.tokenBudget);

    const id = newId("cmpl");
    const created = Math.floor(Date.now() / 1000);
    const base = { id, object: "text_completion" as const, created, model, system_fingerprint: SYSTEM_FINGERPRINT };
    const promptOf = (index: number) => Math.floor(index / n);
    if (body.stream) {
      const includeUsage = body.stream_options?.include_usage === true;
      // text_offset of streamed logprobs counts from the start of each choice's text.
      const offsets = new Map<number, number>();
      const chunk = (c: Choice, piece: GenerationPiece, r: GenerationResult | null): CompletionResponse => {
        const offset = offsets.get(c.index) ?? 0;
        offsets.set(c.index, offset + piece.text.length);
        return {
          ...base,
          choices: [{ index: c.index, text: piece.text, logprobs: piece.logprobs ? completionLogprobs(piece.logprobs, offset) : null, finish_reason: r ? finishReason(r) : null }],
          ...(includeUsage ? { usage: null } : {}),
        };
      };
      await awaitStarted(request, choices, cancel);
      const sse = new SseWriter(reply);
      sse.open();
      await streamChoices(sse, choices, cancel, {
        piece: (c, piece) => [chunk(c, piece, null)],
        end: (c, r) => [chunk(c, { text: "" }, r)],
        usage: includeUsage ? (results) => ({ ...base, choices: [], usage: usageOf(results, promptOf) }) : undefined,
      });
      return reply;
    }

    const results = await untilExpired(request, Promise.all(choices.map((c) => c.stream.result)));
    const response: CompletionResponse = {
      ...base,
      choices: results.map((r, index) => ({ index, text: r.text, logprobs: r.logprobs ? completionLogprobs(r.logprobs) : null, finish_reason: finishReason(r) })),
      usage: usageOf(results, promptOf),
    };
    return response;
  });
}
