/**
 * The router's fault handling against scripted OpenAI-compatible upstreams (no model needed):
 * retries only before the first byte, circuit breaker with a half-open probe, drain, timeouts,
 * client disconnects, the bounded queue, errors in OpenAI's shape, 404 for unknown models.
 */
import assert from "node:assert/strict";
import http from "node:http";
import { after, afterEach, before, describe, it } from "node:test";
import { startRouter, type RouterServer } from "../src/router/server.js";
import type { RouterConfigInput } from "../src/router/config.js";
import { postJson, waitFor } from "./helpers.js";
import { answerOk, chatAnswer, sleep, startScripted, type ScriptedUpstream } from "./scripted-upstream.js";

const chat = (model = "m", content = "hello") => ({ model, messages: [{ role: "user", content }] });

describe("router faults (scripted upstreams)", () => {
  let a: ScriptedUpstream;
  let b: ScriptedUpstream;
  let router: RouterServer | undefined;

  before(async () => {
    a = await startScripted("a", ["m"]);
    b = await startScripted("b", ["m", "only-b"]);
  });
  after(async () => {
    await a.close();
    await b.close();
  });
  afterEach(async () => {
    await router?.close();
    router = undefined;
    for (const u of [a, b]) {
      u.reset();
      u.behaviour = answerOk;
      u.health = { status: 200, message: "ready" };
      u.models = u === a ? ["m"] : ["m", "only-b"];
    }
  });

  const start = async (extra: Partial<RouterConfigInput> = {}) => {
    router = await startRouter({ port: 0, logLevel: "silent", upstreams: [{ name: "a", url: a.url }, { name: "b", url: b.url }], refreshInterval: 60, home: "/nonexistent-nimble-home", ...extra });
    return router;
  };
  /** Makes `a` win every tie: a session that hashes to it. */
  const sessionFor = async (name: string) => {
    for (let i = 0; ; i++) {
      const { sessionOwner } = await import("../src/router/scoring.js");
      if (sessionOwner(`s${i}`, ["a", "b"]) === name) return `s${i}`;
    }
  };

  it("routes a model only to upstreams serving it, aggregates /v1/models, and answers 404 in OpenAI's shape for unknown models", async () => {
    const r = await start();
    const models = await (await fetch(`${r.url}/v1/models`)).json();
    assert.deepEqual(models.data.map((m: any) => m.id).sort(), ["m", "only-b"]);
    for (let i = 0; i < 4; i++) {
      const res = await postJson(`${r.url}/v1/chat/completions`, chat("only-b"));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("x-nimble-upstream"), "b");
    }
    assert.equal(a.seen.length, 0);
    const missing = await postJson(`${r.url}/v1/chat/completions`, chat("nope"));
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.code, "model_not_found");
    assert.equal(typeof missing.json.error.message, "string");
    const noModel = await postJson(`${r.url}/v1/chat/completions`, { messages: [] });
    assert.equal(noModel.status, 400);
    assert.equal(noModel.json.error.param, "model");
  });

  it("retries on another upstream when one resets the connection before its first byte", async () => {
    const r = await start({ routing: { weights: { session: 100 } } });
    a.behaviour = (_req, res) => { res.destroy(); };
    const res = await postJson(`${r.url}/v1/chat/completions`, chat(), { headers: { "content-type": "application/json", "x-session-id": await sessionFor("a") } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-nimble-upstream"), "b");
    // a reused kept-alive connection that fails is tried once more on a fresh one (it may have been closed by the upstream while idle)
    assert.ok(a.seen.length >= 1 && a.seen.length <= 2, `a saw ${a.seen.length}`);
    assert.equal(b.seen.length, 1);
    const metrics = await (await fetch(`${r.url}/v1/metrics`)).text();
    assert.match(metrics, /nimble_router_retries_total\{upstream="a",reason="(stale-)?connection"\} 1/);
  });

  it("also retries when an upstream sent its headers but died before the first byte of body", async () => {
    const r = await start({ routing: { weights: { session: 100 } } });
    a.behaviour = (_req, res) => { res.writeHead(200, { "content-type": "text/event-stream" }); res.flushHeaders(); setTimeout(() => res.destroy(), 20); };
    b.behaviour = (_req, res) => { res.writeHead(200, { "content-type": "text/event-stream" }); res.end("data: {\"from\":\"b\"}\n\ndata: [DONE]\n\n"); };
    const res = await fetch(`${r.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", "x-session-id": await sessionFor("a") }, body: JSON.stringify({ ...chat(), stream: true }) });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "data: {\"from\":\"b\"}\n\ndata: [DONE]\n\n");
  });

  it("never retries after the first byte: the stream ends with an error event and no other upstream is asked", async () => {
    const r = await start({ routing: { weights: { session: 100 } } });
    a.behaviour = (_req, res) => { res.writeHead(200, { "content-type": "text/event-stream" }); res.write("data: {\"n\":1}\n\n"); setTimeout(() => res.destroy(), 30); };
    const res = await fetch(`${r.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", "x-session-id": await sessionFor("a") }, body: JSON.stringify({ ...chat(), stream: true }) });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(text.startsWith("data: {\"n\":1}\n\n"), text);
    assert.match(text, /"code":"upstream_broken"/);
    assert.equal(b.seen.length, 0);
  });

  it("passes SSE through byte for byte and without buffering", async () => {
    const r = await start({ upstreams: [{ name: "a", url: a.url }] });
    let clientGotFirst!: () => void;
    const firstSeen = new Promise<void>((resolve) => (clientGotFirst = resolve));
    const frames = ["data: {\"choices\":[{\"delta\":{\"content\":\"é\"}}]}\n\n", ": a comment\n\n", "event: x\ndata: [DONE]\n\n"];
    a.behaviour = async (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8" });
      res.write(frames[0]);
      await firstSeen; // the next frame is only sent once the client has the first: a buffering router would deadlock here
      res.write(frames[1]);
      res.end(frames[2]);
    };
    const res = await fetch(`${r.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...chat(), stream: true }) });
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes(frames[0]!)) text += decoder.decode((await reader.read()).value, { stream: true });
    clientGotFirst();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    assert.equal(text, frames.join(""));
  });

  it("cancels the upstream request when the client disconnects", async () => {
    const r = await start({ upstreams: [{ name: "a", url: a.url }] });
    a.behaviour = (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      const t = setInterval(() => res.write("data: {}\n\n"), 10);
      res.on("close", () => clearInterval(t));
    };
    const controller = new AbortController();
    const res = await fetch(`${r.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...chat(), stream: true }), signal: controller.signal });
    await res.body!.getReader().read();
    controller.abort();
    await waitFor(async () => a.seen[0]?.cancelled === true, 5000);
    await waitFor(async () => r.upstreams[0]!.inFlight === 0, 5000);
  });

  it("opens an upstream's circuit after consecutive failures, then lets one probe through after the cooldown", async () => {
    const r = await start({ breaker: { failureThreshold: 2, cooldown: 60 }, retries: 0, routing: { weights: { session: 100 } } });
    const toA = { "content-type": "application/json", "x-session-id": await sessionFor("a") };
    a.behaviour = (_req, res) => { res.writeHead(500, { "content-type": "text/plain" }); res.end("engine exploded"); };
    for (let i = 0; i < 2; i++) {
      const res = await postJson(`${r.url}/v1/chat/completions`, chat(), { headers: toA });
      assert.equal(res.status, 500);
      assert.deepEqual(res.json.error.message, "engine exploded"); // plain text wrapped in OpenAI's shape
    }
    assert.equal(r.upstreams[0]!.breaker.state, "open");
    const seenBefore = a.seen.length;
    for (let i = 0; i < 3; i++) assert.equal((await postJson(`${r.url}/v1/chat/completions`, chat(), { headers: toA })).headers.get("x-nimble-upstream"), "b");
    assert.equal(a.seen.length, seenBefore, "an open circuit gets no requests");
    assert.match(await (await fetch(`${r.url}/v1/metrics`)).text(), /nimble_router_upstream_breaker_state\{upstream="a"\} 2/);
    (r.upstreams[0]!.breaker as unknown as { openedAt: number }).openedAt -= 60_000; // the cooldown has passed (no waiting in tests)
    assert.equal(r.upstreams[0]!.breaker.state, "half-open");
    a.behaviour = answerOk;
    const probe = await postJson(`${r.url}/v1/chat/completions`, chat(), { headers: toA });
    assert.equal(probe.headers.get("x-nimble-upstream"), "a");
    assert.equal(r.upstreams[0]!.breaker.state, "closed");
  });

  it("stops sending to an upstream that answers 503 shutting down, until its health check says ready", async () => {
    const r = await start({ routing: { weights: { session: 100 } } });
    const toA = { "content-type": "application/json", "x-session-id": await sessionFor("a") };
    a.behaviour = (_req, res) => { res.writeHead(503, { "content-type": "application/json" }); res.end(JSON.stringify({ error: { message: "The server is shutting down.", type: "service_unavailable", param: null, code: "shutting_down" } })); };
    const first = await postJson(`${r.url}/v1/chat/completions`, chat(), { headers: toA });
    assert.equal(first.status, 200);
    assert.equal(first.headers.get("x-nimble-upstream"), "b");
    assert.equal(r.upstreams[0]!.draining, true);
    for (let i = 0; i < 3; i++) await postJson(`${r.url}/v1/chat/completions`, chat(), { headers: toA });
    assert.equal(a.seen.length, 1);
    assert.equal(r.upstreams[0]!.breaker.state, "closed", "draining is not a fault");
    a.behaviour = answerOk;
    await r.refresh(); // its health check answers ready again (a restarted replica)
    assert.equal(r.upstreams[0]!.draining, false);
    assert.equal((await postJson(`${r.url}/v1/chat/completions`, chat(), { headers: toA })).headers.get("x-nimble-upstream"), "a");
  });

  it("gives up on an upstream that sends nothing within the first-byte timeout and retries elsewhere", async () => {
    const r = await start({ timeouts: { firstByte: 0.2 }, routing: { weights: { session: 100 } } });
    a.behaviour = () => {}; // never answers
    const res = await postJson(`${r.url}/v1/chat/completions`, chat(), { headers: { "content-type": "application/json", "x-session-id": await sessionFor("a") } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-nimble-upstream"), "b");
    await waitFor(async () => a.seen[0]?.cancelled === true, 5000);
  });

  it("answers 408 when the request's deadline passes before the first byte, and cancels the upstream request", async () => {
    const r = await start({ timeouts: { request: 0.3, firstByte: 0 }, upstreams: [{ name: "a", url: a.url }] });
    a.behaviour = () => {}; // never answers
    const res = await postJson(`${r.url}/v1/chat/completions`, chat(), { signal: AbortSignal.timeout(10_000) }); // fails, not hangs, without a deadline
    assert.equal(res.status, 408);
    assert.equal(res.json.error.code, "request_timeout");
    await waitFor(async () => a.seen[0]?.cancelled === true, 5000);
    await waitFor(async () => r.upstreams[0]!.inFlight === 0, 5000);
  });

  it("ends a stream that goes silent for longer than the idle timeout with an error event, and cancels the upstream request", async () => {
    const r = await start({ timeouts: { idle: 0.3 }, upstreams: [{ name: "a", url: a.url }] });
    a.behaviour = (_req, res) => { res.writeHead(200, { "content-type": "text/event-stream" }); res.write("data: {\"n\":1}\n\n"); }; // then silence
    const res = await fetch(`${r.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...chat(), stream: true }), signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.ok(text.startsWith("data: {\"n\":1}\n\n"), text);
    assert.match(text, /"code":"upstream_broken"/);
    await waitFor(async () => a.seen[0]?.cancelled === true, 5000);
  });

  it("bounds its queue: 429 beyond it, like the server", async () => {
    const r = await start({ maxConcurrent: 1, maxQueue: 1, upstreams: [{ name: "a", url: a.url }] });
    let unblock!: () => void;
    const blocked = new Promise<void>((resolve) => (unblock = resolve));
    a.behaviour = async (_req, res, body) => { await blocked; answerOk(_req, res, body); };
    const first = postJson(`${r.url}/v1/chat/completions`, chat());
    await waitFor(async () => a.seen.length === 1);
    const second = postJson(`${r.url}/v1/chat/completions`, chat());
    await waitFor(async () => /nimble_router_queue_waiting 1/.test(await (await fetch(`${r.url}/v1/metrics`)).text()));
    const third = await postJson(`${r.url}/v1/chat/completions`, chat());
    assert.equal(third.status, 429);
    assert.equal(third.json.error.code, "queue_full");
    assert.equal(third.headers.get("retry-after"), "1");
    unblock();
    assert.equal((await first).status, 200);
    assert.equal((await second).status, 200);
  });

  it("passes upstream client errors on in OpenAI's shape, and reports all-failed as the last upstream error", async () => {
    const r = await start({ upstreams: [{ name: "a", url: a.url }] });
    a.behaviour = (_req, res) => { res.writeHead(400, { "content-type": "application/json" }); res.end(JSON.stringify({ error: { message: "bad temperature", type: "invalid_request_error", param: "temperature", code: "invalid_value" } })); };
    const bad = await postJson(`${r.url}/v1/chat/completions`, chat());
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.json, { error: { message: "bad temperature", type: "invalid_request_error", param: "temperature", code: "invalid_value" } });
    a.behaviour = (_req, res) => { res.writeHead(400, { "content-type": "application/json" }); res.end(JSON.stringify({ error: "ollama-style message" })); };
    const ollama = await postJson(`${r.url}/v1/chat/completions`, chat());
    assert.equal(ollama.json.error.message, "ollama-style message");
    assert.equal(ollama.json.error.type, "invalid_request_error");
    await a.close();
    const down = await postJson(`${r.url}/v1/chat/completions`, chat());
    assert.equal(down.status, 502);
    assert.equal(down.json.error.code, "upstream_unavailable");
    a = await startScripted("a", ["m"]);
  });

  it("enforces Nimble's API keys and limits at the front and sends each upstream its own credential", async () => {
    const r = await start({ apiKeys: ["front-key"], rateLimit: { rpm: 2 }, upstreams: [{ name: "a", url: a.url, apiKey: "back-key" }] });
    assert.equal((await postJson(`${r.url}/v1/chat/completions`, chat())).status, 401);
    assert.equal((await postJson(`${r.url}/v1/chat/completions`, chat(), { headers: { "content-type": "application/json", authorization: "Bearer wrong" } })).status, 401);
    const auth = { "content-type": "application/json", authorization: "Bearer front-key" };
    const ok = await postJson(`${r.url}/v1/chat/completions`, chat(), { headers: auth });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get("x-ratelimit-limit-requests"), "2");
    assert.equal(a.seen.at(-1)!.headers.authorization, "Bearer back-key");
    assert.equal((await postJson(`${r.url}/v1/chat/completions`, chat(), { headers: auth })).status, 200);
    const limited = await postJson(`${r.url}/v1/chat/completions`, chat(), { headers: auth });
    assert.equal(limited.status, 429);
    assert.equal(limited.json.error.code, "rate_limit_exceeded");
    assert.equal((await fetch(`${r.url}/v1/health/ready`)).status, 200, "health stays public");
  });

  it("turns an upstream refusing the router's credentials into a 502 naming it, not a 401 to the client", async () => {
    const r = await start({ upstreams: [{ name: "a", url: a.url }] });
    a.behaviour = (_req, res) => { res.writeHead(401, { "content-type": "application/json" }); res.end(JSON.stringify({ error: { message: "Incorrect API key provided.", type: "invalid_request_error", param: null, code: "invalid_api_key" } })); };
    const res = await postJson(`${r.url}/v1/chat/completions`, chat());
    assert.equal(res.status, 502);
    assert.equal(res.json.error.code, "upstream_auth");
  });

  it("answers Anthropic's routes with Anthropic's error shape", async () => {
    const r = await start();
    const res = await postJson(`${r.url}/v1/messages`, { model: "nope", max_tokens: 4, messages: [{ role: "user", content: "hi" }] });
    assert.equal(res.status, 404);
    assert.equal(res.json.type, "error");
    assert.equal(res.json.error.type, "not_found_error");
  });

  it("discovers one upstream per address of a DNS name (a headless Service's pods)", async () => {
    const port = new URL(a.url).port;
    const r = await start({ upstreams: [{ name: "pods", url: `http://localhost:${port}`, discovery: "dns" }] });
    const names = r.upstreams.map((u) => u.name);
    assert.ok(names.includes("pods@127.0.0.1"), names.join(", "));
    const res = await postJson(`${r.url}/v1/chat/completions`, chat());
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-nimble-upstream"), "pods@127.0.0.1");
  });

  it("prefers the upstream that served a LoRA adapter lately (adapter affinity in x-nimble-route)", async () => {
    a.models = ["m", "adapter-x"];
    b.models = ["m", "adapter-x"];
    a.parents = b.parents = { "adapter-x": "m" };
    try {
      const r = await start({ routing: { weights: { prefix: 0 } } });
      const first = await postJson(`${r.url}/v1/chat/completions`, chat("adapter-x", "one"));
      const home = first.headers.get("x-nimble-upstream")!;
      assert.match(first.headers.get("x-nimble-route")!, /lora=0.*lora=0/);
      for (let i = 0; i < 3; i++) {
        const res = await postJson(`${r.url}/v1/chat/completions`, chat("adapter-x", `other ${i}`));
        assert.equal(res.headers.get("x-nimble-upstream"), home);
        assert.match(res.headers.get("x-nimble-route")!, new RegExp(`^${home};[^,]*lora=1`));
      }
    } finally {
      a.parents = b.parents = {};
    }
  });

  it("reads load from NIM's and vLLM's gauges and prefers the less loaded upstream", async () => {
    a.metrics = "num_requests_running{model_name=\"m\"} 8\nnum_requests_waiting{model_name=\"m\"} 6\nnum_request_max{model_name=\"m\"} 8\n";
    b.metrics = "vllm:num_requests_running{model_name=\"m\"} 1\nvllm:num_requests_waiting{model_name=\"m\"} 0\n";
    try {
      const r = await start();
      for (let i = 0; i < 4; i++) {
        const res = await postJson(`${r.url}/v1/chat/completions`, chat("m", `distinct prompt ${i}`));
        assert.equal(res.headers.get("x-nimble-upstream"), "b");
        assert.match(res.headers.get("x-nimble-route")!, /^b;total=[\d.]+;prefix=0;load=0\.125;session=0;lora=0, a;total=[-\d.]+;prefix=0;load=1\.75/);
      }
    } finally {
      a.metrics = undefined;
      b.metrics = undefined;
    }
  });
});

// Keeps the unused-import checker quiet about helpers used only in some tests.
void http;
void chatAnswer;

describe("router building blocks", () => {
  it("hashes at most the first blockChars × matchBlocks characters of a prompt, in chained blocks", async () => {
    const { blockHashes, promptText } = await import("../src/router/prefix-index.js");
    const long = { messages: [{ role: "system", content: "s".repeat(5000) }, { role: "user", content: "u".repeat(5000) }] };
    const text = promptText(long, 64 * 10);
    assert.equal(text.length, 640);
    assert.ok(text.startsWith("system:sss"));
    assert.equal(blockHashes("m", text, 64).length, 10);
    // Chained: the same first block under a different model, or after a different start, hashes differently.
    const [h1] = blockHashes("m", "a".repeat(64), 64);
    assert.notEqual(h1, blockHashes("other", "a".repeat(64), 64)[0]);
    assert.equal(blockHashes("m", "a".repeat(128), 64)[0], h1);
    assert.equal(promptText(long).length, "system:".length + 5000 + 1 + "user:".length + 5000, "unbounded by default");
  });

  it("cancels a flight at its deadline from the sweeper, and lets its attempt watch the rest", async () => {
    const { Flight, Sweeper } = await import("../src/router/flight.js");
    let now = 0;
    const sweeper = new Sweeper(10, () => now);
    const expiring = new Flight(100);
    const open = new Flight(Infinity);
    const cancelled: string[] = [];
    expiring.onCancel(() => cancelled.push("expiring"));
    const watched: number[] = [];
    open.watch = (t) => watched.push(t);
    sweeper.add(expiring);
    sweeper.add(open);
    now = 50;
    sweeper.sweep();
    assert.deepEqual(cancelled, []);
    now = 100;
    sweeper.sweep();
    assert.deepEqual(cancelled, ["expiring"]);
    assert.equal(expiring.reason, "timeout");
    assert.deepEqual(watched, [50, 100]);
    open.cancel("client");
    let late = false;
    open.onCancel(() => (late = true));
    assert.ok(late, "a listener added after the cancel runs at once");
    sweeper.close();
    assert.equal(Sweeper.periodFor([5000, 200, 0]), 20);
    assert.equal(Sweeper.periodFor([0, 0]), 1000);
  });
});
