/**
 * Per-key rate limits without an engine: the window arithmetic on an injected clock (exact
 * headers, messages and Retry-After at the edges of a window), reservations and settling, limits
 * per key and defaults, and the Fastify hooks on a bare Fastify app (light-my-request injection)
 * with a recording stand-in for the metrics.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import Fastify from "fastify";
import { effectiveLimits, formatReset, KeyLimiter, RateLimiter, RateLimitError, registerRateLimits, type LimitKind } from "../src/api/security/rate-limit.js";
import { errorHandler } from "../src/api/errors.js";
import type { ApiKeyIdentity } from "../src/api/security/auth.js";
import type { Metrics } from "../src/api/nim/metrics.js";

/** Asserts a 429 of this kind, message, Retry-After (undefined: none) and headers. */
function refused(fn: () => unknown, kind: LimitKind, message: string, retryAfter: string | undefined, headers?: Record<string, string>): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RateLimitError, String(err));
    assert.equal(err.status, 429);
    assert.equal(err.kind, kind);
    assert.equal(err.type, kind === "tokens" ? "tokens" : "requests");
    assert.equal(err.code, kind === "concurrency" ? "concurrency_limit_exceeded" : "rate_limit_exceeded");
    assert.equal(err.param, null);
    assert.equal(err.message, message);
    assert.equal(err.headers["retry-after"], retryAfter);
    if (headers) assert.deepEqual(err.headers, { ...headers, ...(retryAfter === undefined ? {} : { "retry-after": retryAfter }) });
    return true;
  });
}

describe("formatReset", () => {
  it("writes OpenAI's durations", () => {
    const cases: Array<[number, string]> = [
      [-5, "0ms"], [0, "0ms"], [0.2, "1ms"], [20, "20ms"], [999, "999ms"], [999.5, "1000ms"],
      [1000, "1s"], [1001, "1.1s"], [1520, "1.6s"], [59_900, "59.9s"], [59_901, "1m0s"], [60_000, "1m0s"],
      [61_500, "1m1.5s"], [119_999, "2m0s"], [125_000, "2m5s"], [3_600_000, "60m0s"],
    ];
    for (const [ms, text] of cases) assert.equal(formatReset(ms), text, String(ms));
  });
});

describe("RateLimitError", () => {
  it("rounds Retry-After up to whole seconds, at least 1", () => {
    const cases: Array<[number | undefined, string | undefined]> = [[0, "1"], [1, "1"], [1000, "1"], [1001, "2"], [59_500, "60"], [undefined, undefined]];
    for (const [ms, header] of cases) {
      const err = new RateLimitError("requests", "m", ms, { a: "b" });
      assert.deepEqual(err.headers, { a: "b", ...(header === undefined ? {} : { "retry-after": header }) }, String(ms));
    }
    assert.equal(new RateLimitError("tokens", "m", 1, {}).type, "tokens");
    assert.equal(new RateLimitError("concurrency", "m", 1, {}).type, "requests");
    assert.equal(new RateLimitError("concurrency", "m", 1, {}).code, "concurrency_limit_exceeded");
    assert.deepEqual(new RateLimitError("tokens", "m", 1, {}).body(), { error: { message: "m", type: "tokens", param: null, code: "rate_limit_exceeded" } });
  });
});

describe("KeyLimiter on an injected clock", () => {
  it("has no headers and no limits when every limit is 0", () => {
    const limiter = new KeyLimiter({ rpm: 0, tpm: 0, concurrency: 0 }, () => 0);
    for (let i = 0; i < 50; i++) limiter.admit();
    assert.deepEqual(limiter.reserve(1_000_000), { windowStart: 0, tokens: 1_000_000 });
    assert.deepEqual(limiter.headers(), {});
  });

  it("counts requests in a fixed window opened by the first request, reset exactly 60 s later", () => {
    let now = 5_000;
    const limiter = new KeyLimiter({ rpm: 2, tpm: 0, concurrency: 0 }, () => now);
    const headers = (remaining: number, reset: string) => ({ "x-ratelimit-limit-requests": "2", "x-ratelimit-remaining-requests": String(remaining), "x-ratelimit-reset-requests": reset });
    assert.deepEqual(limiter.headers(), headers(2, "0ms"));
    now = 10_000; // the window opened when headers() first looked: nothing used, so no reset to wait for
    limiter.admit();
    assert.deepEqual(limiter.headers(), headers(1, "55s"));
    now = 30_000;
    limiter.admit();
    assert.deepEqual(limiter.headers(), headers(0, "35s"));
    refused(() => limiter.admit(), "requests", "Rate limit reached for requests per minute: limit 2, used 2. Try again in 35s.", "35", headers(0, "35s"));
    now = 64_999;
    refused(() => limiter.admit(), "requests", "Rate limit reached for requests per minute: limit 2, used 2. Try again in 1ms.", "1");
    now = 65_000; // 60 s after the window opened
    limiter.admit();
    assert.deepEqual(limiter.headers(), headers(1, "1m0s"));
  });

  it("reserves tokens up to the limit, refuses beyond it, and settles to the tokens used", () => {
    let now = 0;
    const limiter = new KeyLimiter({ rpm: 0, tpm: 100, concurrency: 0 }, () => now);
    const headers = (remaining: number, reset: string) => ({ "x-ratelimit-limit-tokens": "100", "x-ratelimit-remaining-tokens": String(remaining), "x-ratelimit-reset-tokens": reset });
    refused(() => limiter.reserve(101), "tokens", "Request too large for tokens per minute: it may use 101 tokens (prompt + max_tokens), more than this key's limit of 100. Send fewer tokens or a lower max_tokens.", undefined, headers(100, "0ms"));
    const a = limiter.reserve(60);
    assert.deepEqual(a, { windowStart: 0, tokens: 60 });
    now = 20_000;
    assert.deepEqual(limiter.headers(), headers(40, "40s"));
    refused(() => limiter.reserve(41), "tokens", "Rate limit reached for tokens per minute: limit 100, used 60, requested 41 (prompt + max_tokens). Try again in 40s.", "40", headers(40, "40s"));
    const b = limiter.reserve(40); // exactly the rest
    assert.deepEqual(limiter.headers(), headers(0, "40s"));
    refused(() => limiter.admit(), "tokens", "Rate limit reached for tokens per minute: limit 100, used 100. Try again in 40s.", "40");
    limiter.settle(a, 25);
    assert.deepEqual(limiter.headers(), headers(35, "40s"));
    limiter.settle(b, 100); // used more than reserved: the budget goes over
    assert.deepEqual(limiter.headers(), headers(0, "40s"));
    refused(() => limiter.reserve(1), "tokens", "Rate limit reached for tokens per minute: limit 100, used 125, requested 1 (prompt + max_tokens). Try again in 40s.", "40");
    for (let i = 0; i < 4; i++) limiter.settle(b, 0); // settling too much never goes below zero
    assert.deepEqual(limiter.headers(), headers(100, "0ms"));
    now = 59_999;
    const c = limiter.reserve(10);
    now = 60_000; // a new window: the old reservation is not taken from it
    assert.deepEqual(limiter.headers(), headers(100, "0ms"));
    limiter.settle(c, 50); // settled in a later window: nothing is charged to the new one
    assert.deepEqual(limiter.headers(), headers(100, "0ms"));
    limiter.reserve(100);
    assert.deepEqual(limiter.headers(), headers(0, "1m0s"));
  });

  it("limits requests in flight, and a release without a request does not make room", () => {
    const limiter = new KeyLimiter({ rpm: 0, tpm: 0, concurrency: 1 }, () => 0);
    limiter.release();
    limiter.admit();
    refused(() => limiter.admit(), "concurrency", "Too many requests in flight for this key: limit 1. Retry when one finishes.", "1", {});
    limiter.release();
    limiter.admit();
  });

  it("checks requests, then tokens, then concurrency; a refused request is not counted", () => {
    const limiter = new KeyLimiter({ rpm: 3, tpm: 10, concurrency: 1 }, () => 0);
    limiter.admit();
    refused(() => limiter.admit(), "concurrency", "Too many requests in flight for this key: limit 1. Retry when one finishes.", "1");
    assert.equal(limiter.headers()["x-ratelimit-remaining-requests"], "2", "the refused request did not count");
    limiter.reserve(10);
    refused(() => limiter.admit(), "tokens", "Rate limit reached for tokens per minute: limit 10, used 10. Try again in 1m0s.", "60");
    limiter.release();
    limiter.limits = { rpm: 1, tpm: 10, concurrency: 1 };
    refused(() => limiter.admit(), "requests", "Rate limit reached for requests per minute: limit 1, used 1. Try again in 1m0s.", "60");
    assert.deepEqual(limiter.headers(), {
      "x-ratelimit-limit-requests": "1", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1m0s",
      "x-ratelimit-limit-tokens": "10", "x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1m0s",
    });
    limiter.limits = { rpm: 0, tpm: 0, concurrency: 1 };
    limiter.admit();
  });
});

describe("RateLimiter and effectiveLimits", () => {
  const key = (name: string, limits: ApiKeyIdentity["limits"] = {}): ApiKeyIdentity => ({ name, scope: "inference", limits, hash: "00" });

  it("takes each limit from the key, else from the defaults (a key's 0 is unlimited)", () => {
    const defaults = { rpm: 5, tpm: 50, concurrency: 2 };
    assert.deepEqual(effectiveLimits({}, defaults), defaults);
    assert.deepEqual(effectiveLimits({ rpm: 0, tpm: 7 }, defaults), { rpm: 0, tpm: 7, concurrency: 2 });
    assert.deepEqual(effectiveLimits({ concurrency: 9 }, defaults), { rpm: 5, tpm: 50, concurrency: 9 });
  });

  it("keeps one limiter per key name, with the key's current limits", () => {
    const limiter = new RateLimiter({ rpm: 1, tpm: 0, concurrency: 0 }, () => 0);
    const a = limiter.forKey(key("a"));
    a.admit();
    assert.equal(limiter.forKey(key("a")), a);
    refused(() => limiter.forKey(key("a")).admit(), "requests", "Rate limit reached for requests per minute: limit 1, used 1. Try again in 1m0s.", "60");
    limiter.forKey(key("b")).admit();
    const again = limiter.forKey(key("a", { rpm: 2 }));
    assert.equal(again, a);
    assert.deepEqual(again.limits, { rpm: 2, tpm: 0, concurrency: 0 });
    again.admit();
    refused(() => again.admit(), "requests", "Rate limit reached for requests per minute: limit 2, used 2. Try again in 1m0s.", "60");
  });
});

describe("registerRateLimits on a bare Fastify app", () => {
  function app(defaults = { rpm: 0, tpm: 0, concurrency: 0 }) {
    const calls: unknown[][] = [];
    const metrics = {
      keyRequest: (...a: unknown[]) => calls.push(["request", ...a]),
      keyTokens: (...a: unknown[]) => calls.push(["tokens", ...a]),
      keyRejected: (...a: unknown[]) => calls.push(["rejected", ...a]),
    } as unknown as Metrics;
    const fastify = Fastify();
    fastify.setErrorHandler(errorHandler);
    fastify.decorateRequest("apiKey", null);
    fastify.addHook("onRequest", async (request) => {
      const name = request.headers["x-key"];
      request.apiKey = typeof name === "string" ? { name, scope: "inference", limits: name === "small" ? { tpm: 20 } : {}, hash: "00" } : null;
    });
    registerRateLimits(fastify, new RateLimiter(defaults, () => 1_000), metrics);
    fastify.post<{ Body: { reserve: number; prompt: number; completion: number } }>("/gen", async (request) => {
      const charge = request.tokenBudget.reserve(request.body.reserve);
      charge.settle({ prompt: request.body.prompt, completion: request.body.completion });
      charge.settle({ prompt: 1000, completion: 1000 }); // a second settle is ignored
      return { ok: true };
    });
    fastify.get("/ping", async () => "pong");
    return { fastify, calls };
  }

  it("leaves requests without a key alone", async () => {
    const { fastify, calls } = app({ rpm: 1, tpm: 1, concurrency: 1 });
    for (let i = 0; i < 3; i++) {
      const res = await fastify.inject({ method: "POST", url: "/gen", payload: { reserve: 500, prompt: 400, completion: 100 } });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers["x-ratelimit-limit-requests"], undefined);
    }
    assert.deepEqual(calls, []);
    await fastify.close();
  });

  it("counts keyed requests, sends the headers, reports to the metrics, and refuses with 429", async () => {
    const { fastify, calls } = app({ rpm: 2, tpm: 100, concurrency: 0 });
    const gen = (key: string, reserve: number) => fastify.inject({ method: "POST", url: "/gen", headers: { "x-key": key }, payload: { reserve, prompt: 3, completion: 4 } });
    const first = await gen("k", 50);
    assert.equal(first.statusCode, 200);
    assert.equal(first.headers["x-ratelimit-limit-requests"], "2");
    assert.equal(first.headers["x-ratelimit-remaining-requests"], "1");
    assert.equal(first.headers["x-ratelimit-remaining-tokens"], "50", "the headers after the reservation");
    const second = await gen("k", 90);
    assert.equal(second.statusCode, 200);
    assert.equal(second.headers["x-ratelimit-remaining-tokens"], "3", "100 - 7 settled - 90 reserved");
    const third = await gen("k", 1);
    assert.equal(third.statusCode, 429);
    assert.equal(third.headers["retry-after"], "60");
    assert.equal(third.json().error.type, "requests");
    const tooBig = await gen("small", 21);
    assert.equal(tooBig.statusCode, 429);
    assert.equal(tooBig.json().error.type, "tokens");
    assert.match(tooBig.json().error.message, /^Request too large/);
    assert.deepEqual(calls, [
      ["request", "k"], ["tokens", "k", 3, 4],
      ["request", "k"], ["tokens", "k", 3, 4],
      ["rejected", "k", "requests"],
      ["request", "small"], ["rejected", "small", "tokens"],
    ]);
    await fastify.close();
  });

  it("releases a request's concurrency slot when its response closes", async () => {
    const { fastify, calls } = app({ rpm: 0, tpm: 0, concurrency: 1 });
    for (let i = 0; i < 3; i++) {
      const res = await fastify.inject({ method: "GET", url: "/ping", headers: { "x-key": "c" } });
      assert.equal(res.statusCode, 200, `request ${i}: ${res.body}`);
      assert.equal(res.headers["x-ratelimit-limit-requests"], undefined, "no per-minute limits: no headers");
    }
    assert.deepEqual(calls, [["request", "c"], ["request", "c"], ["request", "c"]]);
    await fastify.close();
  });
});
