/**
 * Shared by chat and completions: turn validated sampling fields into engine requests, start
 * every choice (all or none: a full queue rejects the whole request), and add up usage.
 */
import { randomInt, randomUUID } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { AdapterHandle, ChatMessage, ChatTemplateOptions, Engine, GenerationRequest, GenerationResult, GenerationStream, PreparedGrammar } from "../engine/types.js";
import { ContextLengthError } from "../engine/types.js";
import { ApiError } from "./errors.js";
import { checkMaxTokens, checkPromptLength, NO_GENERATION_LIMITS, untilExpired, type GenerationLimits } from "./security/limits.js";
import type { TokenCharge } from "./security/rate-limit.js";
import type { FinishReasonOut, SamplingRequest, Usage } from "./protocol.js";

export interface Choice {
  index: number;
  stream: GenerationStream;
}

function contextLengthError(err: ContextLengthError, param: string): ApiError {
  return ApiError.invalid(err.message, param, "context_length_exceeded");
}

export interface RequestContext {
  /** Index of the choice: seeded choices differ from each other. */
  choice: number;
  signal: AbortSignal;
  /** The request field the prompt came from (for errors). */
  promptParam: string;
  logprobs?: { top: number };
  grammar?: PreparedGrammar;
  /** The LoRA adapter the request named. */
  adapter?: AdapterHandle;
  /** The server's --max-output-tokens and --max-prompt-tokens. */
  limits?: GenerationLimits;
  /** Who asked (the API key's name): waiting requests of different clients take turns. */
  client?: string;
}

/** Builds the engine request for one prompt. */
export function toGenerationRequest(engine: Engine, body: SamplingRequest, promptTokens: number[], { choice, signal, promptParam, logprobs, grammar, adapter, limits = NO_GENERATION_LIMITS, client }: RequestContext): GenerationRequest {
  const contextSize = engine.info.contextSize;
  checkPromptLength(limits, promptTokens.length, promptParam);
  if (promptTokens.length >= contextSize) throw contextLengthError(new ContextLengthError(contextSize, promptTokens.length), promptParam);
  const requested = body.max_completion_tokens ?? body.max_tokens ?? undefined;
  const maxTokensParam = body.max_completion_tokens != null ? "max_completion_tokens" : "max_tokens";
  checkMaxTokens(limits, requested, maxTokensParam);
  if (requested !== undefined && promptTokens.length + requested > contextSize) {
    throw contextLengthError(new ContextLengthError(contextSize, promptTokens.length, requested), maxTokensParam);
  }
  const maxTokens = requested ?? Math.min(contextSize - promptTokens.length, limits.maxOutputTokens || Infinity);
  const minTokens = body.min_tokens ?? 0;
  if (minTokens > maxTokens) throw ApiError.invalid(`min_tokens (${minTokens}) must not exceed max_tokens (${maxTokens})`, "min_tokens");
  const stop = body.stop == null ? [] : (Array.isArray(body.stop) ? body.stop : [body.stop]).filter((s) => s.length > 0);
  let logitBias: Map<number, number> | undefined;
  if (body.logit_bias) {
    logitBias = new Map();
    for (const [key, bias] of Object.entries(body.logit_bias)) {
      const token = Number(key);
      if (token >= engine.info.vocabSize) throw ApiError.outsideVocabulary(`logit_bias.${key}`, token, engine.info.vocabSize);
      logitBias.set(token, bias <= -100 ? -Infinity : bias);
    }
  }
  return {
    promptTokens,
    sampling: {
      temperature: body.temperature ?? 1,
      topP: body.top_p ?? 1,
      topK: body.top_k ?? -1,
      minP: body.min_p ?? 0,
      seed: body.seed != null ? body.seed + choice : randomInt(0, 2 ** 32 - 1),
      repetitionPenalty: body.repetition_penalty ?? 1,
      presencePenalty: body.presence_penalty ?? 0,
      frequencyPenalty: body.frequency_penalty ?? 0,
    },
    maxTokens,
    minTokens,
    ignoreEos: body.ignore_eos ?? false,
    stop,
    ...(logitBias ? { logitBias } : {}),
    ...(logprobs ? { logprobs } : {}),
    ...(grammar ? { grammar } : {}),
    ...(adapter ? { adapter } : {}),
    ...(client !== undefined ? { client } : {}),
    signal,
  };
}

/**
 * Starts all generations, or none: if one cannot start (queue full, or the key's token budget
 * cannot hold prompt + max_tokens of every choice), the started ones are cancelled. The tokens
 * reserved from `budget` are settled to the tokens used when every choice has ended.
 */
export function startAll(engine: Engine, requests: GenerationRequest[], cancel: AbortController, budget?: { reserve(tokens: number): TokenCharge }): Choice[] {
  const charge = budget?.reserve(requests.reduce((n, r) => n + r.promptTokens.length + r.maxTokens, 0));
  const choices: Choice[] = [];
  try {
    requests.forEach((r, index) => choices.push({ index, stream: engine.generate(r) }));
  } catch (err) {
    cancel.abort();
    charge?.settle({ prompt: 0, completion: 0 });
    throw err;
  }
  if (charge) {
    void Promise.allSettled(choices.map((c) => c.stream.result)).then((results) => {
      let prompt = 0;
      let completion = 0;
      for (const r of results) {
        if (r.status === "fulfilled") { prompt += r.value.promptTokens; completion += r.value.completionTokens; }
      }
      charge.settle({ prompt, completion });
    });
  }
  return choices;
}

/**
 * Waits until every choice has left the wait queue, so that a stream whose request times out in
 * the queue still gets a real status (503, or 408 once the stream's idle time or the request's
 * deadline passes) rather than an error event after a 200.
 */
export async function awaitStarted(request: FastifyRequest, choices: Choice[], cancel: AbortController): Promise<void> {
  const lifetime = request.lifetime;
  // A stream waiting in the queue sends nothing: the idle limit counts from its arrival.
  const idle = lifetime && lifetime.streamIdleMs > 0 ? setTimeout(() => lifetime.expire("idle"), lifetime.streamIdleMs) : undefined;
  try {
    await untilExpired(request, Promise.all(choices.map((c) => c.stream.started)));
  } catch (err) {
    cancel.abort();
    throw err;
  } finally {
    clearTimeout(idle);
  }
}

/** Aborts `controller` when the client goes away before the response is complete. */
export function abortOnDisconnect(raw: { on(event: "close", cb: () => void): unknown; writableFinished?: boolean }, controller: AbortController): void {
  raw.on("close", () => {
    if (!raw.writableFinished) controller.abort();
  });
}

/** The controller of a request's generations: aborted when the client goes away or the request's deadline passes. */
export function cancellation(request: FastifyRequest, reply: FastifyReply): AbortController {
  const controller = new AbortController();
  const deadline = request.lifetime?.signal;
  if (deadline?.aborted) controller.abort();
  else deadline?.addEventListener("abort", () => controller.abort(), { once: true });
  abortOnDisconnect(reply.raw, controller);
  return controller;
}

export function finishReason(r: GenerationResult): FinishReasonOut {
  if ((r.finishReason as string) === "content_filter") return "content_filter"; // an output guardrail blocked it
  return r.finishReason === "length" ? "length" : "stop";
}

/** Usage over several results; `promptGroups` maps each result to its prompt so a prompt shared by n choices counts once. */
export function usageOf(results: GenerationResult[], promptGroup: (i: number) => number): Usage {
  const prompts = new Map<number, GenerationResult>();
  let completion = 0;
  results.forEach((r, i) => {
    completion += r.completionTokens;
    const g = promptGroup(i);
    const prev = prompts.get(g);
    if (!prev || r.cachedTokens > prev.cachedTokens) prompts.set(g, r);
  });
  let prompt = 0;
  let cached = 0;
  for (const r of prompts.values()) { prompt += r.promptTokens; cached += r.cachedTokens; }
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, prompt_tokens_details: { cached_tokens: cached } };
}

export function newId(prefix: string): string {
  return `${prefix}-${randomUUID().replace(/-/g, "")}`;
}

export const SYSTEM_FINGERPRINT = "nimble";

/** Renders chat messages with the model's template; a template that rejects them is a 400. */
export function renderChat(engine: Engine, messages: ChatMessage[], options?: ChatTemplateOptions): string {
  try {
    return engine.applyChatTemplate(messages, options);
  } catch (err) {
    // Templates enforce their own rules (e.g. alternating roles) by raising errors.
    throw ApiError.invalid(`The model's chat template cannot render these messages: ${(err as Error).message}`, "messages", "chat_template_error");
  }
}
