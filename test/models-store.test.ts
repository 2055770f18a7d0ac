/** The model store through the CLI: `nimble models ls / inspect / rm`, and the one rule that says chat, embedding or rerank. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { readGgufFileInfo } from "node-llama-cpp";
import { generateModel, parameterCount, PRESETS } from "../src/models/generate.js";
import { modelKind } from "../src/models/inspect.js";
import { pullModel } from "../src/models/pull.js";
import { ModelStore } from "../src/models/store.js";
import { tempDir } from "./helpers.js";

const CLI = fileURLToPath(new URL("../../bin/nimble.cjs", import.meta.url));
const nimble = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });

const home = tempDir();
const sources = tempDir();
const chat = join(sources, "chatty-F16.gguf");
const embedder = join(sources, "embedder.gguf");
const reranker = join(sources, "reranker.gguf");

before(async () => {
  await generateModel(chat, { shape: { ...PRESETS.tiny, tensorType: "F16", contextLength: 8192 }, seed: 1, name: "chatty" });
  await generateModel(embedder, { shape: PRESETS.tiny, seed: 2, poolingType: 1, chatTemplate: null });
  await generateModel(reranker, { shape: PRESETS.tiny, seed: 3, poolingType: 4, chatTemplate: null });
  for (const file of [chat, embedder, reranker]) await pullModel(file, { home });
  // A file put in the store by hand is listed too.
  mkdirSync(join(home, "models", "manual"), { recursive: true });
  copyFileSync(chat, join(home, "models", "manual", "by-hand.gguf"));
});

describe("model kind", () => {
  it("is chat, embedding (a pooling type) or rerank (rank pooling), from the header", async () => {
    assert.equal(modelKind(await readGgufFileInfo(chat, { logWarnings: false })), "chat");
    assert.equal(modelKind(await readGgufFileInfo(embedder, { logWarnings: false })), "embedding");
    assert.equal(modelKind(await readGgufFileInfo(reranker, { logWarnings: false })), "rerank");
  });
});

describe("nimble models", () => {
  it("ls lists name, size, architecture, quantization, context length, kind and last use", () => {
    const r = nimble(["models", "ls", "--home", home]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.match(lines[0]!, /^NAME\s+SIZE\s+ARCH\s+QUANT\s+CONTEXT\s+KIND\s+LAST USED$/);
    assert.match(r.stdout, /^chatty-F16\s+\d+\.\d KB\s+llama\s+F16\s+8192\s+chat\s+never$/m);
    assert.match(r.stdout, /^embedder\s+.*\s+F32\s+4096\s+embedding\s+never$/m);
    assert.match(r.stdout, /^reranker\s+.*\s+rerank\s+never$/m);
    assert.match(r.stdout, /^by-hand\s+.*\s+chat\s+never$/m);

    const json = JSON.parse(nimble(["models", "ls", "--home", home, "--json"]).stdout) as any[];
    assert.deepEqual(json.map((m) => [m.name, m.kind, m.quantization, m.contextLength]), [
      ["by-hand", "chat", "F16", 8192], ["chatty-F16", "chat", "F16", 8192], ["embedder", "embedding", "F32", 4096], ["reranker", "rerank", "F32", 4096],
    ]);
    const pulled = json.find((m) => m.name === "embedder");
    assert.equal(pulled.source, embedder);
    assert.match(pulled.files[0].sha256, /^[0-9a-f]{64}$/);
    assert.match(json.find((m) => m.name === "by-hand").source, /not pulled by Nimble/);
  });

  it("inspect reads the GGUF header: parameters, tensor types, template, tokenizer, memory per context size", () => {
    const r = nimble(["models", "inspect", "chatty-F16", "--home", home]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^kind\s+chat$/m);
    assert.match(r.stdout, /^architecture\s+llama$/m);
    assert.match(r.stdout, /^tensor types\s+F16 ×16, F32 ×5$/m);
    assert.match(r.stdout, /^chat template\s+present$/m);
    assert.match(r.stdout, /^tokenizer\s+gpt2, pre-tokenizer gpt-2, 512 tokens/m);
    assert.match(r.stdout, /^sha256\s+[0-9a-f]{64}$/m);
    assert.match(r.stdout, /^  context\s+2048\s+.*\n  context\s+4096\s+.*\n  context\s+8192\s+/m);

    const json = JSON.parse(nimble(["models", "inspect", embedder, "--json"]).stdout);
    assert.equal(json.kind, "embedding");
    assert.equal(json.chatTemplate, false);
    assert.equal(json.poolingType, 1);
    assert.equal(json.parameters, parameterCount(PRESETS.tiny));
    assert.equal(json.layers, PRESETS.tiny.layers);
    assert.deepEqual(json.tensorTypes, [{ type: "F32", count: 3 + 9 * PRESETS.tiny.layers }]);
    assert.deepEqual(json.memory.map((m: any) => m.contextSize), [2048, 4096]);
    assert.ok(json.memory[1].contextBytes > json.memory[0].contextBytes, "a longer context needs more memory");
    assert.equal(json.memory[0].totalBytes, json.weightsBytes + json.memory[0].contextBytes);
  });

  it("rm deletes the files and the entry; unknown or ambiguous names are one-line errors", async () => {
    const r = nimble(["models", "rm", "reranker", "--home", home]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^removed reranker \(.*reranker\.gguf\), freed \d+\.\d KB$/m);
    assert.ok(!existsSync(join(home, "models", "local", "reranker.gguf")));
    assert.ok(!(await new ModelStore(home).read()).some((m) => m.name === "reranker"));

    // Two models named alike: the name is ambiguous, the full reference is not.
    const other = join(tempDir(), "embedder.gguf");
    copyFileSync(reranker, other);
    const second = await pullModel(other, { home });
    assert.notEqual(second.path, join(home, "models", "local", "embedder.gguf"), "a different file of the same name does not replace the first");
    for (const [args, message] of [
      [["models", "rm", "nope"], /no model "nope" in the store .*; it has: by-hand, chatty-F16, embedder, embedder$/m],
      [["models", "inspect", "nope"], /no model "nope"/],
      [["models", "rm", "embedder"], /"embedder" names 2 models; give the full reference: /],
    ] as [string[], RegExp][]) {
      const e = nimble([...args, "--home", home]);
      assert.equal(e.status, 1);
      assert.match(e.stderr, message);
      assert.equal(e.stderr.trim().split("\n").length, 1, e.stderr);
    }
    const byRef = nimble(["models", "rm", other, "--home", home]);
    assert.equal(byRef.status, 0, byRef.stderr);
    assert.ok(!existsSync(second.path));
    assert.deepEqual(readdirSync(join(home, "models", "local")).sort(), ["chatty-F16.gguf", "embedder.gguf"], "the hashed folder left empty is removed");
  });
});
