/** The model generator: deterministic files that node-llama-cpp reads back and loads. */
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { getLlama, readGgufFileInfo } from "node-llama-cpp";
import { generateModel, parameterCount, PRESETS, type ModelShape } from "../src/models/generate.js";
import { encodeTensor, GgmlType, toHalf } from "../src/models/gguf-writer.js";
import { tempDir } from "./helpers.js";

describe("gguf writer", () => {
  it("converts floats to IEEE half precision", () => {
    assert.equal(toHalf(0), 0);
    assert.equal(toHalf(1), 0x3c00);
    assert.equal(toHalf(-2), 0xc000);
    assert.equal(toHalf(65504), 0x7bff);
    assert.equal(toHalf(1e6), 0x7c00);
    assert.equal(toHalf(5.960464477539063e-8), 0x0001);
  });

  it("quantizes Q8_0 blocks as scale plus 32 int8", () => {
    const values = Float32Array.from({ length: 32 }, (_, i) => i - 16);
    const buf = encodeTensor(values, GgmlType.Q8_0);
    assert.equal(buf.length, 34);
    assert.equal(buf.readInt8(2), -127);
    assert.equal(buf.readInt8(2 + 16), 0);
  });
});

describe("model generator", () => {
  const dir = tempDir();

  it("writes the tiny preset under 1 MB, byte-identical for the same seed", async () => {
    const a = join(dir, "a.gguf");
    const b = join(dir, "b.gguf");
    const c = join(dir, "c.gguf");
    await generateModel(a, { shape: PRESETS.tiny, seed: 1 });
    await generateModel(b, { shape: PRESETS.tiny, seed: 1 });
    await generateModel(c, { shape: PRESETS.tiny, seed: 2 });
    assert.ok(statSync(a).size < 1024 * 1024, `tiny is ${statSync(a).size} bytes`);
    assert.ok(readFileSync(a).equals(readFileSync(b)));
    assert.ok(!readFileSync(a).equals(readFileSync(c)));
  });

  it("is read back by node-llama-cpp's GGUF reader with the requested shape", async () => {
    const path = join(dir, "shape.gguf");
    const shape: ModelShape = { embeddingSize: 96, layers: 3, heads: 6, kvHeads: 2, feedForwardSize: 160, vocabSize: 700, contextLength: 1024, tensorType: "F16" };
    await generateModel(path, { shape });
    const info = await readGgufFileInfo(path);
    const md = info.metadata as any;
    assert.equal(md.general.architecture, "llama");
    assert.equal(md.llama.embedding_length, 96);
    assert.equal(md.llama.block_count, 3);
    assert.equal(md.llama.attention.head_count, 6);
    assert.equal(md.llama.attention.head_count_kv, 2);
    assert.equal(md.llama.feed_forward_length, 160);
    assert.equal(md.llama.context_length, 1024);
    assert.equal(md.tokenizer.ggml.model, "gpt2");
    assert.equal(md.tokenizer.ggml.tokens.length, 700);
    assert.match(md.tokenizer.chat_template, /<\|im_start\|>/);
    assert.equal(info.tensorInfo!.length, 2 + 3 * 9 + 1);
  });

  it("loads and generates in every tensor type, with a byte-level tokenizer that round-trips text", async () => {
    const llama = await getLlama({ gpu: false });
    for (const tensorType of ["F32", "F16", "Q8_0"] as const) {
      const path = join(dir, `${tensorType}.gguf`);
      await generateModel(path, { shape: { ...PRESETS.tiny, tensorType } });
      const model = await llama.loadModel({ modelPath: path });
      const text = "Hello, wörld! 🐈 <|im_start|>";
      const tokens = model.tokenize(text, true);
      assert.equal(model.detokenize(tokens, true), text);
      assert.ok(tokens.length < Buffer.byteLength(text), "merges make tokens longer than one byte");
      const context = await model.createContext({ contextSize: 128 });
      const out = [];
      for await (const t of context.getSequence().evaluate(tokens, { temperature: 0 })) {
        out.push(t);
        if (out.length === 5) break;
      }
      assert.equal(out.length, 5);
      await context.dispose();
      await model.dispose();
    }
  });

  it("writes an embedding preset that node-llama-cpp embeds with (mean pooling, no chat template)", async () => {
    const path = join(dir, "embedding.gguf");
    await generateModel(path, { shape: PRESETS.embedding });
    const md = (await readGgufFileInfo(path)).metadata as any;
    assert.equal(md.llama.pooling_type, 1);
    assert.equal(md.tokenizer.chat_template, undefined);
    const llama = await getLlama({ gpu: false });
    const model = await llama.loadModel({ modelPath: path });
    const context = await model.createEmbeddingContext({ contextSize: 128, threads: 1 });
    const { vector } = await context.getEmbeddingFor("hello world");
    assert.equal(vector.length, PRESETS.embedding.embeddingSize);
    assert.ok(vector.some((x) => x !== 0));
    await context.dispose();
    await model.dispose();
  });

  it("writes a reranker preset: a BERT cross-encoder that node-llama-cpp ranks with, deterministic by seed", async () => {
    const [a, b, c] = ["ra", "rb", "rc"].map((n) => join(dir, `${n}.gguf`)) as [string, string, string];
    await generateModel(a, { shape: PRESETS.reranker, seed: 7 });
    await generateModel(b, { shape: PRESETS.reranker, seed: 7 });
    await generateModel(c, { shape: PRESETS.reranker, seed: 8 });
    assert.ok(readFileSync(a).equals(readFileSync(b)));
    assert.ok(!readFileSync(a).equals(readFileSync(c)));
    const info = await readGgufFileInfo(a);
    const md = info.metadata as any;
    assert.equal(md.general.architecture, "bert");
    assert.equal(md.bert.pooling_type, 4);
    assert.equal(md.bert.attention.causal, false);
    const names = info.tensorInfo!.map((t) => t.name);
    for (const name of ["cls.weight", "cls.bias", "cls.output.weight", "cls.output.bias", "position_embd.weight", "token_types.weight"]) assert.ok(names.includes(name), name);
    let parameters = 0;
    for (const t of info.tensorInfo!) parameters += t.dimensions.reduce((x: number, y) => x * Number(y), 1);
    assert.equal(parameters, parameterCount(PRESETS.reranker));

    const llama = await getLlama({ gpu: false });
    const model = await llama.loadModel({ modelPath: a });
    assert.ok(model.fileInsights.supportsRanking);
    const context = await model.createRankingContext({ contextSize: 512, threads: 1 });
    const scores = await context.rankAll("where is the cat", ["the cat is on the mat", "stock prices fell"]);
    assert.equal(scores.length, 2);
    for (const s of scores) assert.ok(s > 0 && s < 1, String(s));
    assert.notEqual(scores[0], scores[1]);
    assert.deepEqual(await context.rankAll("where is the cat", ["the cat is on the mat", "stock prices fell"]), scores);
    await context.dispose();
    await model.dispose();
  });

  it("has a bench preset of about 60M parameters", () => {
    const n = parameterCount(PRESETS.bench);
    assert.ok(n > 55e6 && n < 65e6, `${n}`);
  });

  it("rejects impossible shapes with a clear message", async () => {
    await assert.rejects(generateModel(join(dir, "bad.gguf"), { shape: { ...PRESETS.tiny, heads: 5 } }), /divisible by heads/);
    await assert.rejects(generateModel(join(dir, "bad.gguf"), { shape: { ...PRESETS.tiny, vocabSize: 10 } }), /at least 259/);
    await assert.rejects(generateModel(join(dir, "bad.gguf"), { shape: { ...PRESETS.reranker, kvHeads: 2 } }), /as many key\/value heads as heads/);
  });
});
