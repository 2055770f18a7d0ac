/**
 * Server-wide limits on each request: how long it may take (`--request-timeout`), how long a
 * stream may go silent (`--stream-idle-timeout`), the largest `max_tokens` and the longest prompt.
 * Bodies are limited by Fastify (`--body-limit`).
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ApiError } from "../errors.js";

export interface GenerationLimits {
  /** Largest max_tokens (0: none); also caps requests that give none. */
  maxOutputTokens: number;
  /** Longest prompt in tokens (0: none). */
  maxPromptTokens: number;
}

export const NO_GENERATION_LIMITS: GenerationLimits = { maxOutputTokens: 0, maxPromptTokens: 0 };

export type ExpiryReason = "timeout" | "idle";

/** A request's deadline: its signal aborts when the request runs too long or its stream goes idle. */
export class RequestLifetime {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  reason: ExpiryReason | undefined;

  constructor(timeoutMs: number, readonly streamIdleMs: number) {
    if (timeoutMs > 0) this.timer = setTimeout(() => this.expire("timeout"), timeoutMs).unref();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  expire(reason: ExpiryReason): void {
    if (this.reason) return;
    this.reason = reason;
    this.controller.abort();
  }

  dispose(): void {
    clearTimeout(this.timer);
  }

  /** The error to answer with once expired. */
  error(): ApiError | undefined {
    if (this.reason === "timeout") return new ApiError(408, "The request took longer than this server allows and was cancelled.", "invalid_request_error", null, "request_timeout");
    if (this.reason === "idle") return new ApiError(408, "The stream sent nothing for longer than this server allows and was cancelled.", "invalid_request_error", null, "stream_idle_timeout");
    return undefined;
  }
}

declare module "fastify" {
  interface FastifyRequest {
    lifetime: RequestLifetime;
  }
}

export function registerRequestLifetime(app: FastifyInstance, options: { requestTimeoutMs: number; streamIdleTimeoutMs: number }): void {
  app.decorateRequest("lifetime", null as never);
  app.addHook("onRequest", async (request, reply) => {
    const lifetime = new RequestLifetime(options.requestTimeoutMs, options.streamIdleTimeoutMs);
    request.lifetime = lifetime;
    reply.raw.once("close", () => lifetime.dispose());
  });
}

/**
 * Settles as `work` does, or rejects with the 408 as soon as the request's deadline passes or its
 * stream goes idle, without waiting for the engine to let go of the (aborted) generation: a request
 * still queued is only dropped by the scheduler when it reaches a sequence.
 */
export function untilExpired<T>(request: FastifyRequest, work: Promise<T>): Promise<T> {
  const lifetime = request.lifetime;
  if (!lifetime) return work;
  return new Promise<T>((resolve, reject) => {
    const expire = () => reject(lifetime.error());
    if (lifetime.reason) expire();
    else lifetime.signal.addEventListener("abort", expire, { once: true });
    work.then(
      (value) => { lifetime.signal.removeEventListener("abort", expire); resolve(value); },
      (err: unknown) => { lifetime.signal.removeEventListener("abort", expire); reject(err); },
    );
  });
}

/** Checks a prompt's length against --max-prompt-tokens. */
export function checkPromptLength(limits: GenerationLimits, tokens: number, param: string): void {
  if (limits.maxPromptTokens > 0 && tokens > limits.maxPromptTokens) {
    throw ApiError.invalid(`The prompt has ${tokens} tokens, more than the ${limits.maxPromptTokens} this server accepts.`, param, "prompt_too_long");
  }
}

/** Checks a requested max_tokens against --max-output-tokens. */
export function checkMaxTokens(limits: GenerationLimits, requested: number | undefined, param: string): void {
  if (limits.maxOutputTokens > 0 && requested !== undefined && requested > limits.maxOutputTokens) {
    throw ApiError.invalid(`Invalid value for '${param}': ${requested} is more than the ${limits.maxOutputTokens} tokens this server generates per request.`, param, "max_tokens_too_large");
  }
}
