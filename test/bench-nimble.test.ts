/** `nimble bench` against a real Nimble server on the tiny model: exact input sizes from its /tokenize, every workload, no errors. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runBench, type BenchOptions } from "../src/bench/run.js";
import type { NimbleServer } from "../src/nimble.js";
import { startTinyServer, tempDir } from "./helpers.js";

const CLI = fileURLToPath(new URL("../../bin/nimble.cjs", import.meta.url));

function options(url: string, workload: Partial<BenchOptions["workload"]>, over: Partial<Omit<BenchOptions, "workload">> = {}): BenchOptions {
  return {
    targets: [{ url }], endpoint: "chat", mode: "concurrency", levels: [1, 2], requests: 4, warmup: 1, timeoutMs: 30_000, temperature: 0, slo: {},
    command: "test", version: "test", ...over,
    workload: { kind: "synthetic", seed: 3, inputTokens: 40, outputTokens: 8, ignoreEos: true, prefixTokens: 60, conversations: 2, turns: 3, ...workload },
  };
}

describe("nimble bench against a real Nimble server (tiny model)", () => {
  let server: NimbleServer;
  before(async () => { server = await startTinyServer({ parallel: 4, ctxSize: 1024 }); });
  after(async () => { await server.close(); });

  it("runs the CLI with exact input sizes from /tokenize and writes the server's models and metadata", async () => {
    const out = tempDir("nimble-bench-");
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [CLI, "bench", "--url", server.url, "--concurrency", "1,2", "--requests", "4", "--input-tokens", "40",
        "--output-tokens", "8", "--warmup", "1", "--out", out, "--no-progress"]);
      let stdout = "", stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("exit", (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    assert.equal(res.inputSizing, "tokenize");
    assert.equal(res.targets[0].model, "tiny");
    assert.ok(res.targets[0].server.metadata, "NIM /v1/metadata recorded");
    assert.equal(res.targets[0].extraBody, undefined, "no llama-server workaround for Nimble");
    for (const level of res.levels) {
      const m = level.results[0];
      assert.equal(m.errors, 0, JSON.stringify(m.errorSamples));
      assert.equal(m.ok, 4);
      assert.equal(m.outputTokens, 4 * 8);
      assert.equal(m.tokenSources.usage, 4);
      assert.ok(m.meanInputTokens >= 40 && m.meanInputTokens < 70, `input tokens ${m.meanInputTokens} (40 + chat template)`);
      assert.ok(m.ttftMs.p50 > 0 && m.itlMs.p50 >= 0);
    }
  });

  it("runs shared-prefix, multi-turn (served from the prefix cache) and the completions endpoint", async () => {
    const shared = await runBench(options(server.url, { kind: "shared-prefix" }));
    for (const l of shared.levels) assert.equal(l.results[0]!.errors, 0);
    const multi = await runBench(options(server.url, { kind: "multi-turn" }, { levels: [2], requests: undefined }));
    const m = multi.levels[0]!.results[0]!;
    assert.equal(m.ok, 6, JSON.stringify(m.errorSamples));
    assert.ok((m.meanCachedTokens ?? 0) > 0, "later turns reuse the conversation's cached prefix");
    const completions = await runBench(options(server.url, {}, { endpoint: "completions", mode: "rate", levels: [20] }));
    assert.equal(completions.levels[0]!.results[0]!.ok, 4);
  });
});
