/**
 * `nimble router` in front of real Nimble replicas (tiny generated models) and a scripted
 * OpenAI-compatible engine: the official SDK through the router, streaming, prefix and session
 * affinity visible in the response headers, LoRA-free mixed fleets, the CLI, and a replica killed
 * (SIGKILL) in the middle of a run: no request fails that had not yet received a byte.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import type { NimbleServer } from "../src/nimble.js";
import { startRouter, type RouterServer } from "../src/router/server.js";
import { postJson, startTinyServer, tempDir, tinyModelPath } from "./helpers.js";
import { startScripted, type ScriptedUpstream } from "./scripted-upstream.js";

const CLI = fileURLToPath(new URL("../../bin/nimble.cjs", import.meta.url));

/** Starts a `nimble` command in its own process and resolves with its URL once it logs `listening`. */
function spawnNimble(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`did not start:\n${out}`)), 60_000);
    child.stdout!.on("data", () => {
      const m = /listening\s+(http:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ child, url: m[1]! }); }
    });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`exited with ${code}:\n${out}`)); });
  });
}

/** A long, distinct text (prompts must span several prefix blocks). */
const words = (seed: number, n: number) => Array.from({ length: n }, (_, i) => `w${(seed * 7919 + i * 104729) % 9973}`).join(" ");

describe("router over Nimble replicas", () => {
  let r1: NimbleServer;
  let r2: NimbleServer;
  let other: ScriptedUpstream;
  let router: RouterServer;

  before(async () => {
    [r1, r2] = await Promise.all([startTinyServer({ threads: 1, parallel: 2 }), startTinyServer({ threads: 1, parallel: 2 })]);
    other = await startScripted("vllm-like", ["other-model"]);
    router = await startRouter({ port: 0, logLevel: "silent", home: tempDir(), refreshInterval: 60, upstreams: [{ name: "r1", url: r1.url }, { name: "r2", url: `${r2.url}/v1` }, { name: "vllm", url: other.url }] });
  });
  after(async () => {
    await router.close();
    await Promise.all([r1.close(), r2.close(), other.close()]);
  });

  it("serves every upstream's models through the official SDK, each request to an upstream that has the model", async () => {
    const client = new OpenAI({ baseURL: `${router.url}/v1`, apiKey: "unused" });
    const models = (await client.models.list()).data.map((m) => m.id).sort();
    assert.deepEqual(models, ["other-model", "tiny"]);
    const { data, response } = await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "hello" }], max_tokens: 4, temperature: 0 }).withResponse();
    assert.equal(data.object, "chat.completion");
    assert.ok(["r1", "r2"].includes(response.headers.get("x-nimble-upstream")!));
    const viaOther = await client.chat.completions.create({ model: "other-model", messages: [{ role: "user", content: "hi" }] });
    assert.equal(viaOther.choices[0]!.message.content, "ok");
    await assert.rejects(client.chat.completions.create({ model: "missing", messages: [{ role: "user", content: "hi" }] }), (err: any) => err.status === 404 && err.code === "model_not_found");
  });

  it("streams a Nimble replica's SSE through unchanged (same text as a direct request with the same seed)", async () => {
    const body = { model: "tiny", messages: [{ role: "user", content: "stream me" }], max_tokens: 12, temperature: 0, seed: 7, stream: true };
    const text = async (url: string) => {
      const res = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", "x-session-id": "stream" }, body: JSON.stringify(body) });
      assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
      const frames = (await res.text()).split("\n\n").filter((f) => f.startsWith("data: "));
      assert.equal(frames.at(-1), "data: [DONE]");
      return { upstream: res.headers.get("x-nimble-upstream"), content: frames.slice(0, -1).map((f) => JSON.parse(f.slice(6)).choices[0]?.delta?.content ?? "").join("") };
    };
    const routed = await text(router.url);
    const direct = await text(routed.upstream === "r1" ? r1.url : r2.url);
    assert.equal(routed.content, direct.content);
  });

  it("keeps a conversation on the replica that holds its prefix (visible in x-nimble-route), and spreads new ones by load", async () => {
    const used = new Set<string>();
    for (let c = 0; c < 4; c++) {
      const messages: { role: string; content: string }[] = [{ role: "user", content: words(c, 60) }];
      let home: string | undefined;
      for (let turn = 0; turn < 3; turn++) {
        const res = await postJson(`${router.url}/v1/chat/completions`, { model: "tiny", messages, max_tokens: 3, temperature: 0 });
        assert.equal(res.status, 200);
        const upstream = res.headers.get("x-nimble-upstream")!;
        const route = res.headers.get("x-nimble-route")!;
        if (turn === 0) home = upstream;
        else {
          assert.equal(upstream, home, `turn ${turn} of conversation ${c} moved: ${route}`);
          assert.match(route, new RegExp(`^${home};total=[\\d.]+;prefix=0\\.[5-9]|^${home};total=[\\d.]+;prefix=1`), route);
        }
        messages.push({ role: "assistant", content: res.json.choices[0].message.content }, { role: "user", content: words(100 + c * 10 + turn, 20) });
      }
      used.add(home!);
    }
    const metrics = await (await fetch(`${router.url}/v1/metrics`)).text();
    assert.match(metrics, /nimble_router_prefix_match_ratio_bucket\{le="1"\} \d+/);
    assert.match(metrics, /nimble_router_upstream_prefix_blocks\{upstream="r1"\} \d+/);
  });

  it("keeps a session (x-session-id, or the body's user) on one replica", async () => {
    for (const session of ["alice", "bob", "carol"]) {
      const seen = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const res = await postJson(`${router.url}/v1/completions`, { model: "tiny", prompt: `q${i}`, max_tokens: 2, user: session });
        assert.equal(res.status, 200);
        seen.add(res.headers.get("x-nimble-upstream")!);
      }
      assert.equal(seen.size, 1, `session ${session} went to ${[...seen].join(", ")}`);
    }
  });

  it("runs as `nimble router --config router.yaml`, and refuses a bad config in one line", async () => {
    const dir = tempDir();
    const file = join(dir, "router.yaml");
    writeFileSync(file, `port: 0\nlogLevel: error\nhome: ${dir}\nupstreams:\n  - name: one\n    url: ${r1.url}\n`);
    const { child, url } = await spawnNimble(["router", "--config", file]);
    try {
      const res = await postJson(`${url}/v1/completions`, { model: "tiny", prompt: "hi", max_tokens: 2 });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("x-nimble-upstream"), "one");
    } finally {
      child.kill("SIGTERM");
    }
    writeFileSync(file, "upstreams:\n  - url: not-a-url\n");
    const bad = spawnSync(process.execPath, [CLI, "router", "--config", file], { encoding: "utf8" });
    assert.equal(bad.status, 1);
    assert.equal(bad.stderr.trim().split("\n").length, 1);
    assert.match(bad.stderr, /invalid upstreams\.0\.url/);
  });
});

describe("router: a replica killed mid-run", () => {
  it("fails no request that had not yet received a byte", async () => {
    const survivor = await startTinyServer({ threads: 1, parallel: 2 });
    const victim = await spawnNimble(["serve", "--model", await tinyModelPath(), "--served-model-name", "tiny", "--port", "0", "--threads", "1", "--parallel", "2", "--home", tempDir(), "--log-level", "error"]);
    const router = await startRouter({ port: 0, logLevel: "silent", home: tempDir(), refreshInterval: 60, routing: { strategy: "round-robin" }, upstreams: [{ name: "survivor", url: survivor.url }, { name: "victim", url: victim.url }] });
    type Outcome = { ok: boolean; bytes: number; upstream: string | null; error?: string };
    const stream = async (i: number): Promise<Outcome> => {
      let bytes = 0;
      let upstream: string | null = null;
      try {
        const res = await fetch(`${router.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "tiny", messages: [{ role: "user", content: `request ${i}` }], max_tokens: 24, ignore_eos: true, stream: true }) });
        upstream = res.headers.get("x-nimble-upstream");
        if (res.status !== 200) return { ok: false, bytes, upstream, error: `HTTP ${res.status}: ${await res.text()}` };
        let text = "";
        const decoder = new TextDecoder();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          bytes += chunk.length;
          text += decoder.decode(chunk, { stream: true });
        }
        return { ok: text.endsWith("data: [DONE]\n\n") && !text.includes("upstream_broken"), bytes, upstream, error: text.slice(-200) };
      } catch (err) {
        return { ok: false, bytes, upstream, error: (err as Error).message };
      }
    };
    try {
      // Wave 1: streams on both replicas; the victim is killed once one of its streams has sent bytes.
      const wave1 = Array.from({ length: 6 }, (_, i) => stream(i));
      const deadline = Date.now() + 30_000;
      while (router.upstreams[1]!.inFlight === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, 150));
      victim.child.kill("SIGKILL");
      // Wave 2: sent right after the kill, before any health check noticed it: the dead replica is tried and the request retried.
      const wave2 = Array.from({ length: 6 }, (_, i) => stream(100 + i));
      const results = [...(await Promise.all(wave1)), ...(await Promise.all(wave2))];
      for (const r of results) if (!r.ok) assert.ok(r.bytes > 0, `a request failed before its first byte: ${JSON.stringify(r)}`);
      assert.ok(results.slice(6).every((r) => r.ok && r.upstream === "survivor"), JSON.stringify(results.slice(6)));
      const metrics = await (await fetch(`${router.url}/v1/metrics`)).text();
      assert.match(metrics, /nimble_router_retries_total\{upstream="victim",reason="(stale-)?connection"\} [1-9]/);
    } finally {
      victim.child.kill("SIGKILL");
      await router.close();
      await survivor.close();
    }
  });
});
