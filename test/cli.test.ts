/** The nimble command line, run as a user would: help, gen-model, bad input, serve with the demo model, drain on SIGTERM. */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { metricValue, tempDir, tinyModelPath, waitFor } from "./helpers.js";

const CLI = fileURLToPath(new URL("../../bin/nimble.cjs", import.meta.url));

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", env: { ...process.env, ...env } });
}

/** Starts `nimble serve` and resolves with its URL once it logs that it listens. */
function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [CLI, "serve", "--port", "0", ...args], { env: { ...process.env, ...env } });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 60_000);
    child.stdout!.on("data", () => {
      const m = /listening\s+(http:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ child, url: m[1]!, output: () => out }); }
    });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`serve exited with ${code}:\n${out}`)); });
  });
}

describe("cli", () => {
  it("prints help", () => {
    const r = run(["--help"]);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /serve/);
    assert.match(r.stdout, /gen-model/);
    const s = run(["serve", "--help"]);
    assert.match(s.stdout, /--parallel/);
    assert.match(s.stdout, /NIM_SERVER_PORT/);
  });

  it("gen-model writes a deterministic file", () => {
    const dir = tempDir();
    const a = run(["gen-model", "--preset", "tiny", "--out", join(dir, "a.gguf")]);
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stdout, /wrote .*a\.gguf/);
    run(["gen-model", "--preset", "tiny", "--out", join(dir, "b.gguf")]);
    assert.ok(readFileSync(join(dir, "a.gguf")).equals(readFileSync(join(dir, "b.gguf"))));
    const lora = run(["gen-model", "--preset", "tiny", "--lora", "--lora-rank", "4", "--out", join(dir, "lora.gguf")]);
    assert.equal(lora.status, 0, lora.stderr);
    assert.match(lora.stdout, /LoRA adapter \(rank 4\)/);
  });

  it("gen-model --preset reranker writes a reranker that serve --rerank-model serves", async () => {
    const path = join(tempDir(), "reranker.gguf");
    const r = run(["gen-model", "--preset", "reranker", "--out", path]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /reranker model/);
    // serve logs "listening" once every model is loaded.
    const { child, url } = await serve(["--model", await tinyModelPath(), "--rerank-model", path, "--threads", "1"]);
    try {
      const res = await fetch(`${url}/v1/rerank`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "reranker", query: "q", documents: ["a", "b"] }) });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as any).results.length, 2);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("serve --profile applies the profile asked for: a q8_0 KV cache changes what llama.cpp computes", async () => {
    // The demo model (head size 32) can take a q8_0 KV cache; the same greedy request under the f16
    // profile gives other log-probabilities, so the cache type reached llama.cpp (not only the log).
    const home = tempDir();
    const firstLogprobs = async (profile: string) => {
      const { child, url, output } = await serve(["--profile", profile, "--threads", "1"], { NIMBLE_HOME: home });
      try {
        const res = await fetch(`${url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ messages: [{ role: "user", content: "Tell me a story about a cat." }], max_tokens: 3, temperature: 0, logprobs: true }) });
        assert.equal(res.status, 200);
        const json: any = await res.json();
        return { output: output(), logprobs: json.choices[0].logprobs.content.map((e: any) => e.logprob) as number[] };
      } finally {
        child.kill("SIGKILL");
      }
    };
    const q8 = await firstLogprobs("cpu-kv-q8");
    assert.match(q8.output, /^profile\s+cpu-kv-q8: .*KV cache q8_0.*asked for with --profile/m);
    const f16 = await firstLogprobs("cpu");
    assert.match(f16.output, /^profile\s+cpu: .*KV cache f16/m);
    assert.notEqual(q8.logprobs[0], f16.logprobs[0], "the same computation: the q8_0 KV cache did not reach llama.cpp");
  });

  it("fails with a one-line message and a non-zero exit on bad input", () => {
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [["serve", "--parallel", "-3"], {}, /--parallel/],
      [["serve", "--model", "/does/not/exist.gguf"], {}, /model file not found/],
      [["serve", "--model", "hf:just-a-name"], {}, /hf:owner\/repo\/file\.gguf/],
      [["serve", "--profile", "turbo"], {}, /unknown profile "turbo".*this machine's are: .*cpu/],
      [["serve"], { NIMBLE_PORT: "http" }, /NIMBLE_PORT/],
      [["gen-model", "--out", "/tmp/x.gguf", "--preset", "huge"], {}, /unknown preset/],
      [["frobnicate"], {}, /unknown command/],
    ];
    for (const [args, env, message] of cases) {
      const r = run(args, env);
      assert.notEqual(r.status, 0, args.join(" "));
      assert.match(r.stderr, message);
      assert.ok(!/\n\s+at /.test(r.stderr), `stack trace for ${args.join(" ")}:\n${r.stderr}`);
    }
  });

  it("names the path a user gave: profiles ./missing.gguf, a file that is not a GGUF", () => {
    const dir = tempDir();
    const bad = join(dir, "weights.safetensors");
    writeFileSync(bad, "PK\x03\x04 not a model");
    const cases: [string[], RegExp][] = [
      [["profiles", "./missing.gguf", "--home", dir], /^nimble: model file not found: \S*\/missing\.gguf\n$/],
      [["profiles", bad, "--home", dir], new RegExp(`^nimble: ${bad.replace(/[.]/g, "\\.")} is not a GGUF model file`)],
      [["serve", "--model", bad, "--home", dir], new RegExp(`^nimble: ${bad.replace(/[.]/g, "\\.")} is not a GGUF model file`)],
    ];
    for (const [args, message] of cases) {
      const r = run(args);
      assert.notEqual(r.status, 0, args.join(" "));
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /no model .* in the store/);
    }
  });

  it("says how to choose another port when the port is taken: one line, exit 1", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    try {
      const port = (taken.address() as AddressInfo).port;
      const child = spawn(process.execPath, [CLI, "serve", "--model", await tinyModelPath(), "--port", String(port), "--threads", "1", "--home", tempDir()]);
      let stderr = "";
      child.stderr!.on("data", (d) => (stderr += d));
      child.stdout!.resume();
      const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
      assert.equal(code, 1);
      assert.match(stderr, new RegExp(`^nimble: listen EADDRINUSE: .*:${port} \\(.*--port N.*--port 0.*\\)\\n$`));
      assert.equal(stderr.split("\n").length, 2, stderr);
    } finally {
      taken.close();
    }
  });

  it("serves the generated demo model without --model, saying it is a demo", async () => {
    const home = tempDir();
    const { child, url, output } = await serve([], { NIMBLE_HOME: home });
    try {
      assert.match(output(), /random weights/);
      assert.match(output(), /CPU/);
      assert.match(output(), /^profile\s+cpu: CPU only, 4 sequences of 4096 tokens, KV cache f16, batch 512, \d+ threads \(needs .* RAM; .* RAM available;/m);
      const models: any = await (await fetch(`${url}/v1/models`)).json();
      assert.equal(models.data[0].id, "nimble-demo");
      assert.equal(models.data[0].nimble.demo, true);
      assert.match(models.data[0].nimble.note, /random weights/);
      // USAGE.md shows this banner: the same lines, in the same order (loading progress aside).
      const usage = readFileSync(fileURLToPath(new URL("../../docs/USAGE.md", import.meta.url)), "utf8");
      const documented = /The startup log says[^`]*```\n([\s\S]*?)```/.exec(usage)![1]!;
      await waitFor(async () => /^try /m.test(output()));
      const labels = (text: string) => text.split("\n").filter((l) => /^\S/.test(l) && !/^loading model: /.test(l)).map((l) => l.split(/\s+/)[0]);
      assert.deepEqual(labels(output()).slice(0, labels(documented).length), labels(documented));
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("drains on SIGTERM: ready turns 503, new requests get 503, the requests in flight finish, exit 0", async () => {
    // No timing: one sequence, held by a generation far longer than the test (A, ended by its
    // client once the checks are done), and a request accepted behind it (B), which must still run
    // to its end after the SIGTERM. Every step waits for a state the server reports.
    const model = join(tempDir(), "long-context.gguf");
    await generateModel(model, { shape: { ...PRESETS.tiny, contextLength: 32768 }, seed: 42 });
    const { child, url } = await serve(["--model", model, "--parallel", "1", "--ctx-size", "32768", "--threads", "1"]);
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const gauge = async (name: string) => metricValue(await (await fetch(`${url}/v1/metrics`)).text(), name) ?? -1;
    const completion = (body: object, signal?: AbortSignal) =>
      fetch(`${url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: "hello", stream: true, ...body }), signal });
    const hold = new AbortController();
    const a = await completion({ max_tokens: 32000, ignore_eos: true }, hold.signal);
    const aReader = a.body!.getReader();
    await aReader.read();
    const b = completion({ max_tokens: 5, ignore_eos: true });
    await waitFor(async () => (await gauge("num_requests_running")) === 1 && (await gauge("num_requests_waiting")) === 1, 60_000);

    child.kill("SIGTERM");
    await waitFor(async () => (await fetch(`${url}/v1/health/ready`)).status === 503, 60_000);
    const refused = await fetch(`${url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: "hi", max_tokens: 2 }) });
    assert.equal(refused.status, 503);
    assert.equal(((await refused.json()) as any).error.code, "shutting_down");
    assert.equal(refused.headers.get("retry-after"), "5");
    // A was not cut by the signal: it still streams, and B still waits for its sequence. A's client
    // lets go, and B runs to its end.
    assert.equal((await aReader.read()).done, false);
    assert.equal(await gauge("num_requests_waiting"), 1);
    hold.abort();
    await aReader.closed.catch(() => {});
    const text = await (await b).text();
    assert.match(text, /"finish_reason":"length"/);
    assert.match(text, /data: \[DONE\]/);
    assert.equal(await exited, 0);
  });
});
