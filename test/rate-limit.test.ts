/**
 * Per-key limits (requests and tokens per minute, concurrency) with OpenAI's headers and 429s,
 * and the server-wide limits: max_tokens ceiling, prompt length, body size, request timeout,
 * idle stream timeout, on real servers. The window arithmetic (fake clock): rate-limit-unit.test.ts.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { KeyStore } from "../src/keys/store.js";
import type { NimbleServer } from "../src/nimble.js";
import { metricValue, postJson, readSse, startTinyServer, tempDir, waitFor } from "./helpers.js";

const messages = [{ role: "user", content: "hi" }];

describe("per-key limits on a server", () => {
  let server: NimbleServer;
  const keys: Record<string, string> = {};
  before(async () => {
    const home = tempDir();
    const store = KeyStore.inHome(home);
    keys.rpm = store.create("rpm3", "inference", { rpm: 3 }).key;
    keys.tpm = store.create("tpm", "inference", { tpm: 300 }).key;
    keys.conc = store.create("conc", "inference", { concurrency: 1 }).key;
    keys.defaults = store.create("defaults", "admin").key;
    server = await startTinyServer({ home, parallel: 2, rateLimitRpm: 1000, rateLimitTpm: 0 });
  });
  after(async () => server.close());
  const chat = (key: string, body: object = {}) => postJson(`${server.url}/v1/chat/completions`, { messages, max_tokens: 2, ...body }, { headers: { "content-type": "application/json", authorization: `Bearer ${key}` } });

  it("counts requests per minute, with OpenAI's headers, then refuses with 429 and Retry-After", async () => {
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await chat(keys.rpm!);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("x-ratelimit-limit-requests"), "3");
      assert.match(res.headers.get("x-ratelimit-reset-requests")!, /^(\d+m)?\d+(\.\d)?s$|^\d+ms$/);
      assert.equal(res.headers.get("x-ratelimit-limit-tokens"), null, "no token limit on this key: no token headers");
      remaining.push(res.headers.get("x-ratelimit-remaining-requests")!);
    }
    assert.deepEqual(remaining, ["2", "1", "0"]);
    const refused = await chat(keys.rpm!);
    assert.equal(refused.status, 429);
    assert.deepEqual(refused.json.error.type, "requests");
    assert.equal(refused.json.error.code, "rate_limit_exceeded");
    assert.match(refused.json.error.message, /requests per minute: limit 3/);
    const retryAfter = Number(refused.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    assert.equal(refused.headers.get("x-ratelimit-remaining-requests"), "0");
    // Every route behind a key counts, and the OpenAI client sees its RateLimitError.
    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: keys.rpm!, maxRetries: 0 });
    await assert.rejects(client.models.list(), (e: unknown) => e instanceof OpenAI.RateLimitError);
    // Keys without limits of their own get the server's defaults.
    const other = await chat(keys.defaults!);
    assert.equal(other.headers.get("x-ratelimit-limit-requests"), "1000");
  });

  it("reserves prompt + max_tokens per minute, settles to the usage, and reports it per key in the metrics", async () => {
    const first = await chat(keys.tpm!, { max_tokens: 50 });
    assert.equal(first.status, 200);
    const used1 = first.json.usage.total_tokens as number;
    assert.equal(first.headers.get("x-ratelimit-limit-tokens"), "300");
    assert.equal(first.headers.get("x-ratelimit-remaining-tokens"), String(300 - (first.json.usage.prompt_tokens + 50)), "the reservation");
    assert.match(first.headers.get("x-ratelimit-reset-tokens")!, /^(\d+m)?\d+(\.\d)?s$/, "tokens used: the window resets in (up to) a minute");
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": keys.tpm! },
      body: JSON.stringify({ messages, max_tokens: 10, stream: true, stream_options: { include_usage: true } }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-ratelimit-limit-tokens"), "300", "streamed responses carry the headers too");
    assert.ok(res.headers.get("x-request-id"));
    const events = await readSse(res);
    const usage = events.at(-2).usage;
    // Settled to the usage: the first request used used1, not its 50-token reservation.
    assert.equal(res.headers.get("x-ratelimit-remaining-tokens"), String(300 - used1 - (usage.prompt_tokens + 10)));
    const tooLarge = await chat(keys.tpm!, { max_tokens: 400 });
    assert.equal(tooLarge.status, 429);
    assert.equal(tooLarge.json.error.type, "tokens");
    assert.match(tooLarge.json.error.message, /Request too large/);
    assert.equal(tooLarge.headers.get("retry-after"), null, "waiting would not help");
    const metrics = await (await fetch(`${server.url}/v1/metrics`, { headers: { authorization: `Bearer ${keys.defaults}` } })).text();
    const prompt = metricValue(metrics, 'api_key_tokens_total{key_name="tpm",kind="prompt"}');
    const completion = metricValue(metrics, 'api_key_tokens_total{key_name="tpm",kind="completion"}');
    assert.equal((prompt ?? 0) + (completion ?? 0), used1 + usage.total_tokens);
    assert.equal(metricValue(metrics, 'api_key_rate_limited_total{key_name="rpm3",limit="requests"}'), 2);
    assert.equal(metricValue(metrics, 'api_key_rate_limited_total{key_name="tpm",limit="tokens"}'), 1);
    assert.ok((metricValue(metrics, 'api_key_requests_total{key_name="rpm3"}') ?? 0) === 3);
    for (const key of Object.values(keys)) assert.ok(!metrics.includes(key), "metrics name keys, never show them");
  });

  it("limits requests in flight per key", async () => {
    // A long generation holds the key's one slot until its client goes away.
    const long = request(`${server.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${keys.conc}` } });
    long.on("error", () => {});
    long.end(JSON.stringify({ messages, max_tokens: 4000, ignore_eos: true }));
    const metrics = async () => (await fetch(`${server.url}/v1/metrics`, { headers: { authorization: `Bearer ${keys.defaults}` } })).text();
    await waitFor(async () => metricValue(await metrics(), "num_requests_running") === 1);
    const refused = await chat(keys.conc!);
    assert.equal(refused.status, 429);
    assert.equal(refused.json.error.code, "concurrency_limit_exceeded");
    assert.equal(refused.headers.get("retry-after"), "1");
    assert.equal((await chat(keys.defaults!)).status, 200, "other keys are not affected");
    long.destroy();
    await waitFor(async () => (await chat(keys.conc!)).status === 200);
  });
});

describe("server-wide limits", () => {
  it("refuses max_tokens above --max-output-tokens, caps requests without it, and refuses long prompts and bodies", async () => {
    const server = await startTinyServer({ maxOutputTokens: 16, maxPromptTokens: 40, bodyLimit: 4000 });
    try {
      const over = await postJson(`${server.url}/v1/chat/completions`, { messages, max_tokens: 17 });
      assert.equal(over.status, 400);
      assert.equal(over.json.error.param, "max_tokens");
      assert.equal(over.json.error.code, "max_tokens_too_large");
      const overNew = await postJson(`${server.url}/v1/chat/completions`, { messages, max_completion_tokens: 100 });
      assert.equal(overNew.json.error.param, "max_completion_tokens");
      const capped = await postJson(`${server.url}/v1/chat/completions`, { messages, ignore_eos: true });
      assert.equal(capped.status, 200);
      assert.equal(capped.json.usage.completion_tokens, 16);
      const anthropic = await postJson(`${server.url}/v1/messages`, { messages, max_tokens: 1000 });
      assert.equal(anthropic.status, 400);
      assert.equal(anthropic.json.type, "error");
      const long = "word ".repeat(60);
      const prompt = await postJson(`${server.url}/v1/chat/completions`, { messages: [{ role: "user", content: long }], max_tokens: 2 });
      assert.equal(prompt.status, 400);
      assert.equal(prompt.json.error.code, "prompt_too_long");
      assert.equal(prompt.json.error.param, "messages");
      const second = await postJson(`${server.url}/v1/completions`, { prompt: ["hi", long], max_tokens: 2 });
      assert.equal(second.json.error.param, "prompt.1");
      const body = await postJson(`${server.url}/v1/chat/completions`, { messages: [{ role: "user", content: "x".repeat(5000) }] });
      assert.equal(body.status, 413);
      assert.equal(body.json.error.code, "body_too_large");
    } finally {
      await server.close();
    }
  });

  it("cancels a request that outlives --request-timeout: 408, or an error event ending the stream", async () => {
    // 4000 tokens take seconds on the tiny model; the deadline is 50 ms.
    const server = await startTinyServer({ requestTimeout: 0.05 });
    try {
      const body = { messages, max_tokens: 4000, ignore_eos: true };
      const plain = await postJson(`${server.url}/v1/chat/completions`, body);
      assert.equal(plain.status, 408);
      assert.equal(plain.json.error.code, "request_timeout");
      const res = await fetch(`${server.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: "hi", max_tokens: 4000, ignore_eos: true, stream: true }) });
      // A stream gets its status when it leaves the queue: a 408 if the deadline passed before, else an error event.
      if (res.status === 408) assert.equal(((await res.json()) as any).error.code, "request_timeout");
      else {
        const events = await readSse(res);
        assert.equal(events.at(-1), "[DONE]");
        assert.equal(events.at(-2).error.code, "request_timeout");
      }
      // Greedy, so the random model's output (and whether it ends early) is the same every run.
      const anthropic = await fetch(`${server.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...body, temperature: 0, stream: true }) });
      assert.match(await anthropic.text(), /^(event: error\ndata: )?\{"type":"error","error":\{"type":"invalid_request_error","message":"The request took longer/m);
      const aborted = async () => metricValue(await (await fetch(`${server.url}/v1/metrics`)).text(), 'request_finish_total{model_name="tiny",finished_reason="abort"}');
      await waitFor(async () => (await aborted()) === 3); // the generations were cancelled
    } finally {
      await server.close();
    }
  });

  it("ends a stream that sends nothing for --stream-idle-timeout (here: waiting silently in the queue)", async () => {
    // One sequence, busy with a long request: a second, streamed request waits silently in the queue.
    // Streams get their status only once they leave the queue, so this one is a 408.
    const server = await startTinyServer({ parallel: 1, streamIdleTimeout: 0.1 });
    const busy = request(`${server.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" } });
    busy.on("error", () => {});
    try {
      busy.end(JSON.stringify({ messages, max_tokens: 4000, ignore_eos: true }));
      await waitFor(async () => metricValue(await (await fetch(`${server.url}/v1/metrics`)).text(), "num_requests_running") === 1);
      const res = await fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ messages, max_tokens: 5, stream: true }) });
      assert.equal(res.status, 408);
      assert.equal(((await res.json()) as any).error.code, "stream_idle_timeout");
    } finally {
      busy.destroy();
      await server.close();
    }
  });
});
