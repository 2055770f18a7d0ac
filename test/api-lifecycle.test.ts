/** Readiness, management endpoints, metrics, queue overflow and cancellation on the real engine. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { startHttpServer } from "../src/api/server.js";
import { LlamaEngine } from "../src/engine/llama-engine.js";
import { metricValue, postJson, startTinyServer, tinyModelPath, waitFor } from "./helpers.js";

const messages = [{ role: "user", content: "hi" }];

describe("lifecycle", () => {
  it("is live at once, 503 until the model is loaded, then ready", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const path = await tinyModelPath();
    const server = await startHttpServer({
      port: 0,
      models: [
        {
          id: "tiny",
          kind: "chat",
          source: path,
          estimateBytes: async () => 0,
          load: async (observer) => {
            await gate;
            return LlamaEngine.load({ modelPath: path, servedName: "tiny", parallel: 2, maxQueue: 4, observer });
          },
        },
      ],
    });
    try {
      assert.equal((await fetch(`${server.url}/v1/health/live`)).status, 200);
      const notReady = await fetch(`${server.url}/v1/health/ready`);
      assert.equal(notReady.status, 503);
      assert.equal(((await notReady.json()) as any).ready, false);
      const early = await postJson(`${server.url}/v1/chat/completions`, { messages });
      assert.equal(early.status, 503);
      assert.equal(early.json.error.code, "model_not_ready");
      assert.ok(early.headers.get("retry-after"));
      release();
      await server.ready;
      const ready = await fetch(`${server.url}/v1/health/ready`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { object: "health.response", message: "ready", ready: true });
      assert.equal((await postJson(`${server.url}/v1/chat/completions`, { messages, max_tokens: 2 })).status, 200);
    } finally {
      await server.close();
    }
  });

  it("serves version, metadata and Prometheus metrics with NIM's names", async () => {
    const server = await startTinyServer();
    try {
      await postJson(`${server.url}/v1/chat/completions`, { messages, max_tokens: 3, ignore_eos: true });
      const version: any = await (await fetch(`${server.url}/v1/version`)).json();
      assert.match(version.release, /^\d+\.\d+\.\d+/);
      assert.equal(typeof version.api, "string");
      const metadata: any = await (await fetch(`${server.url}/v1/metadata`)).json();
      assert.equal(metadata.modelInfo[0].id, "tiny");
      assert.equal(metadata.settings.parallel, 4);
      // npm ci builds the native addon: the persistent llama.cpp thread pool must be attached.
      assert.deepEqual(metadata.hardware.threadPool, { attached: true });
      assert.match(metadata.threads.policy, /all physical cores/);
      // The contention guard's counters (it wraps the default thread choice on more than one core).
      if (/fewer while other processes/.test(metadata.threads.policy)) {
        assert.equal(typeof metadata.threads.contention.reducedSteps, "number");
        assert.equal(typeof metadata.threads.contention.backoffs, "number");
      }
      const res = await fetch(`${server.url}/v1/metrics`);
      assert.match(res.headers.get("content-type") ?? "", /text\/plain/);
      const text = await res.text();
      for (const name of ["num_requests_running", "num_requests_waiting", "num_request_max", "gpu_cache_usage_perc", "prompt_tokens_total", "generation_tokens_total", "request_success_total", "request_finish_total", "time_to_first_token_seconds_bucket", "time_per_output_token_seconds_bucket", "e2e_request_latency_seconds_bucket", "request_prompt_tokens_bucket", "request_generation_tokens_bucket"]) {
        assert.ok(new RegExp(`^${name}\\{[^}]*model_name="tiny"`, "m").test(text), `missing ${name}`);
      }
      assert.ok(text.includes('time_to_first_token_seconds_bucket{le="0.04",model_name="tiny"}'));
      assert.ok(text.includes('e2e_request_latency_seconds_bucket{le="40",model_name="tiny"}'));
      assert.equal(metricValue(text, "num_request_max"), 4);
      assert.equal(metricValue(text, "generation_tokens_total"), 3);
    } finally {
      await server.close();
    }
  });

  it("rejects at once with 429 and Retry-After when the queue is full", async () => {
    const server = await startTinyServer({ parallel: 1, maxQueue: 1 });
    try {
      const body = { messages, max_tokens: 400, ignore_eos: true };
      const results = await Promise.all(Array.from({ length: 4 }, () => postJson(`${server.url}/v1/chat/completions`, body)));
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 200, 429, 429]);
      const rejected = results.find((r) => r.status === 429)!;
      assert.equal(rejected.headers.get("retry-after"), "1");
      assert.equal(rejected.json.error.type, "rate_limit_error");
    } finally {
      await server.close();
    }
  });

  it("answers 503 with Retry-After, streaming or not, when a request waits longer than --queue-timeout", async () => {
    const server = await startTinyServer({ parallel: 1, queueTimeout: 0.2 });
    const cancel = new AbortController();
    try {
      const busy = fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ messages, max_tokens: 4000, ignore_eos: true, stream: true }), signal: cancel.signal });
      await waitFor(async () => metricValue(await (await fetch(`${server.url}/v1/metrics`)).text(), "num_requests_running") === 1);
      for (const stream of [false, true]) {
        const res = await postJson(`${server.url}/v1/chat/completions`, { messages, max_tokens: 5, stream });
        assert.equal(res.status, 503, JSON.stringify(res.json));
        assert.equal(res.json.error.code, "queue_timeout");
        assert.equal(res.headers.get("retry-after"), "5");
      }
      cancel.abort();
      await busy.then((r) => r.body?.cancel()).catch(() => {});
      await waitFor(async () => metricValue(await (await fetch(`${server.url}/v1/metrics`)).text(), "num_requests_running") === 0);
      assert.equal((await postJson(`${server.url}/v1/chat/completions`, { messages, max_tokens: 2 })).status, 200);
    } finally {
      cancel.abort();
      await server.close();
    }
  });

  it("stops a generation whose client disconnects and frees its sequence", async () => {
    const server = await startTinyServer({ parallel: 2 });
    try {
      const metrics = async () => (await fetch(`${server.url}/v1/metrics`)).text();
      for (const stream of [true, false]) {
        const controller = new AbortController();
        const res = fetch(`${server.url}/v1/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ messages, max_tokens: 3000, ignore_eos: true, stream }),
          signal: controller.signal,
        });
        if (stream) {
          const reader = (await res).body!.getReader();
          await reader.read();
        } else {
          res.catch(() => {});
          await waitFor(async () => metricValue(await metrics(), "num_requests_running") === 1);
        }
        controller.abort();
        await waitFor(async () => metricValue(await metrics(), "num_requests_running") === 0, 5000);
      }
      const text = await metrics();
      assert.equal(metricValue(text, 'request_finish_total{model_name="tiny",finished_reason="abort"}'), 2);
      assert.ok((metricValue(text, "generation_tokens_total") ?? 0) < 2000, "generation stopped early");
      assert.equal((await postJson(`${server.url}/v1/chat/completions`, { messages, max_tokens: 2 })).status, 200);
    } finally {
      await server.close();
    }
  });
});
