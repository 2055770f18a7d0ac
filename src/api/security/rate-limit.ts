/**
 * Per-key limits: requests per minute, tokens per minute, requests in flight. Counted in memory
 * over fixed one-minute windows (the first request opens a window; it resets 60 s later).
 *
 * Tokens are reserved before generation starts (prompt + max_tokens for each choice, so a request
 * that could overrun the budget is refused up front, as OpenAI does) and reconciled to the actual
 * prompt + completion tokens when it ends. Every authenticated response carries OpenAI's
 * `x-ratelimit-*` headers for the limits its key has; a refusal is a 429 with `Retry-After`.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import type { KeyLimits } from "../../keys/store.js";
import type { ApiKeyIdentity } from "./auth.js";
import { ApiError } from "../errors.js";
import type { Metrics } from "../nim/metrics.js";

const WINDOW_MS = 60_000;

export interface LimitSettings {
  /** 0 = unlimited. */
  rpm: number;
  tpm: number;
  concurrency: number;
}

export type LimitKind = "requests" | "tokens" | "concurrency";

/** Why a request was refused, with what the client may do about it. */
export class RateLimitError extends ApiError {
  constructor(readonly kind: LimitKind, message: string, retryAfterMs: number | undefined, headers: Record<string, string>) {
    const code = kind === "concurrency" ? "concurrency_limit_exceeded" : "rate_limit_exceeded";
    super(429, message, kind === "tokens" ? "tokens" : "requests", null, code, {
      ...headers,
      ...(retryAfterMs === undefined ? {} : { "retry-after": String(Math.max(1, Math.ceil(retryAfterMs / 1000))) }),
    });
  }
}

/** OpenAI's duration format for the reset headers: "20ms", "1.5s", "1m0s". */
export function formatReset(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const s = Math.ceil(ms / 100) / 10;
  return s >= 60 ? `${Math.floor(s / 60)}m${Number((s % 60).toFixed(1))}s` : `${s}s`;
}

class Window {
  start = -Infinity;
  used = 0;

  constructor(private readonly now: () => number) {}

  /** Opens a new window when the current one is over. */
  current(): this {
    const t = this.now();
    if (t - this.start >= WINDOW_MS) {
      this.start = t;
      this.used = 0;
    }
    return this;
  }

  resetInMs(): number {
    return Math.max(0, this.start + WINDOW_MS - this.now());
  }
}

/** A token reservation, settled with the tokens actually used. */
export interface TokenCharge {
  settle(used: { prompt: number; completion: number }): void;
}

/** One key's counters. */
export class KeyLimiter {
  private readonly requests: Window;
  private readonly tokens: Window;
  private inFlight = 0;

  constructor(public limits: LimitSettings, private readonly now: () => number = Date.now) {
    this.requests = new Window(now);
    this.tokens = new Window(now);
  }

  /** OpenAI's rate-limit headers for the limits this key has. */
  headers(): Record<string, string> {
    const out: Record<string, string> = {};
    if (this.limits.rpm > 0) {
      const w = this.requests.current();
      out["x-ratelimit-limit-requests"] = String(this.limits.rpm);
      out["x-ratelimit-remaining-requests"] = String(Math.max(0, this.limits.rpm - w.used));
      out["x-ratelimit-reset-requests"] = formatReset(w.used === 0 ? 0 : w.resetInMs());
    }
    if (this.limits.tpm > 0) {
      const w = this.tokens.current();
      out["x-ratelimit-limit-tokens"] = String(this.limits.tpm);
      out["x-ratelimit-remaining-tokens"] = String(Math.max(0, this.limits.tpm - w.used));
      out["x-ratelimit-reset-tokens"] = formatReset(w.used === 0 ? 0 : w.resetInMs());
    }
    return out;
  }

  /** Admits a request (counting it), or throws the 429 saying which limit it hit. Call release() when it ends. */
  admit(): void {
    const { rpm, tpm, concurrency } = this.limits;
    const requests = this.requests.current();
    if (rpm > 0 && requests.used >= rpm) {
      throw new RateLimitError("requests", `Rate limit reached for requests per minute: limit ${rpm}, used ${requests.used}. Try again in ${formatReset(requests.resetInMs())}.`, requests.resetInMs(), this.headers());
    }
    const tokens = this.tokens.current();
    if (tpm > 0 && tokens.used >= tpm) {
      throw new RateLimitError("tokens", `Rate limit reached for tokens per minute: limit ${tpm}, used ${tokens.used}. Try again in ${formatReset(tokens.resetInMs())}.`, tokens.resetInMs(), this.headers());
    }
    if (concurrency > 0 && this.inFlight >= concurrency) {
      throw new RateLimitError("concurrency", `Too many requests in flight for this key: limit ${concurrency}. Retry when one finishes.`, 1000, this.headers());
    }
    requests.used++;
    this.inFlight++;
  }

  release(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
  }

  /** Reserves tokens for a generation, or throws a 429 if the minute's budget cannot hold them. */
  reserve(tokens: number): { windowStart: number; tokens: number } {
    const { tpm } = this.limits;
    const w = this.tokens.current();
    if (tpm > 0 && tokens > tpm) {
      throw new RateLimitError("tokens", `Request too large for tokens per minute: it may use ${tokens} tokens (prompt + max_tokens), more than this key's limit of ${tpm}. Send fewer tokens or a lower max_tokens.`, undefined, this.headers());
    }
    if (tpm > 0 && w.used + tokens > tpm) {
      throw new RateLimitError("tokens", `Rate limit reached for tokens per minute: limit ${tpm}, used ${w.used}, requested ${tokens} (prompt + max_tokens). Try again in ${formatReset(w.resetInMs())}.`, w.resetInMs(), this.headers());
    }
    w.used += tokens;
    return { windowStart: w.start, tokens };
  }

  /** Replaces a reservation by the tokens used, if its window is still the current one. */
  settle(reservation: { windowStart: number; tokens: number }, used: number): void {
    const w = this.tokens.current();
    if (w.start === reservation.windowStart) w.used = Math.max(0, w.used + used - reservation.tokens);
  }
}

declare module "fastify" {
  interface FastifyRequest {
    /** Charges a request's tokens to its key (a no-op without a key); throws a 429 beyond its limit. */
    tokenBudget: { reserve(tokens: number): TokenCharge };
  }
}

const FREE: { reserve(tokens: number): TokenCharge } = { reserve: () => ({ settle: () => {} }) };

/** The limiters of every key seen, by name. */
export class RateLimiter {
  private readonly byKey = new Map<string, KeyLimiter>();

  constructor(private readonly defaults: LimitSettings, private readonly now: () => number = Date.now) {}

  forKey(key: ApiKeyIdentity): KeyLimiter {
    const limits = effectiveLimits(key.limits, this.defaults);
    let limiter = this.byKey.get(key.name);
    if (!limiter) this.byKey.set(key.name, (limiter = new KeyLimiter(limits, this.now)));
    else limiter.limits = limits; // a key re-created under the same name keeps its counters
    return limiter;
  }
}

export function effectiveLimits(key: KeyLimits, defaults: LimitSettings): LimitSettings {
  return { rpm: key.rpm ?? defaults.rpm, tpm: key.tpm ?? defaults.tpm, concurrency: key.concurrency ?? defaults.concurrency };
}

/** Counts every authenticated request against its key (hooks run after authentication). */
export function registerRateLimits(app: FastifyInstance, limiter: RateLimiter, metrics: Metrics): void {
  app.decorateRequest("tokenBudget", null as never);
  app.addHook("onRequest", async (request, reply) => {
    const key = request.apiKey;
    if (!key) {
      request.tokenBudget = FREE;
      return;
    }
    const limits = limiter.forKey(key);
    try {
      limits.admit();
    } catch (err) {
      if (err instanceof RateLimitError) metrics.keyRejected(key.name, err.kind);
      throw err;
    }
    metrics.keyRequest(key.name);
    reply.raw.once("close", () => limits.release());
    reply.headers(limits.headers());
    request.tokenBudget = {
      reserve(tokens) {
        let reservation;
        try {
          reservation = limits.reserve(tokens);
        } catch (err) {
          if (err instanceof RateLimitError) metrics.keyRejected(key.name, err.kind);
          throw err;
        }
        setHeaders(reply, limits.headers());
        let settled = false;
        return {
          settle({ prompt, completion }) {
            if (settled) return;
            settled = true;
            limits.settle(reservation, prompt + completion);
            metrics.keyTokens(key.name, prompt, completion);
          },
        };
      },
    };
  });
}

/** Updates headers while they can still be sent. */
function setHeaders(reply: FastifyReply, headers: Record<string, string>): void {
  if (!reply.raw.headersSent) reply.headers(headers);
}
