/**
 * Chunking with a generated embedding model's real tokenizer: the documented invariants on an
 * extracted Markdown document and a PDF; a megabyte paragraph in bounded work. The model-free
 * tests are in rag-chunk-unit.test.ts (fast enough for mutation testing).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { getLlama, LlamaLogLevel, type LlamaModel } from "node-llama-cpp";
import { AUTO_CHUNKING, chunkDocument } from "../src/rag/chunk.js";
import { extractDocument } from "../src/rag/extract.js";
import { llamaTokenizer } from "../src/rag/tokenizer.js";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { EmbeddingEngine } from "../src/engine/embedding-engine.js";
import { tempDir } from "./helpers.js";
import type { ExtractedDocument } from "../src/rag/types.js";
import { charTokenizer, checkInvariants, paragraph } from "./chunk-check.js";

describe("chunking at scale", () => {
  it("a 1 MB paragraph with no breaks is chunked in bounded work", { timeout: 120_000 }, () => {
    const doc: ExtractedDocument = { sections: [{ text: "ab".repeat(512 * 1024), headingPath: [] }] };
    const chunks = chunkDocument(doc, charTokenizer, AUTO_CHUNKING);
    assert.ok(chunks.every((c) => c.tokens <= 800));
    assert.equal(chunks[chunks.length - 1]!.charEnd, doc.sections[0]!.text.length);
  });
});

describe("chunking with a generated embedding model's tokenizer", () => {
  let model: LlamaModel;
  let modelPath: string;
  before(async () => {
    modelPath = join(tempDir(), "embed.gguf");
    await generateModel(modelPath, { shape: PRESETS.embedding, seed: 7 });
    const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error, progressLogs: false });
    model = await llama.loadModel({ modelPath, vocabOnly: true });
  });
  after(async () => model?.dispose());

  it("an extracted Markdown document keeps headings, offsets and the token limits in the model's tokens", async () => {
    const md = ["# Handbook", paragraph("intro", 6), "## Leave", paragraph("leave", 30), "", paragraph("leave", 20, 30), "# Payroll", paragraph("pay", 25), "Ünïcödé ﬁle name — ✓"].join("\n\n");
    const doc = await extractDocument(Buffer.from(md), "handbook.md");
    const tokenizer = llamaTokenizer(model);
    for (const options of [{ maxChunkTokens: 100, overlapTokens: 50 }, { maxChunkTokens: 250, overlapTokens: 0 }, AUTO_CHUNKING]) {
      const chunks = checkInvariants(doc, tokenizer, options);
      assert.ok(chunks.some((c) => c.headingPath.join(">") === "Handbook>Leave"));
      assert.ok(chunks.some((c) => c.headingPath.join(">") === "Payroll"));
    }
    assert.ok(tokenizer.decode(tokenizer.encode("hello world")).includes("hello world"));
  });

  it("a PDF's chunks carry their page numbers", async () => {
    const { readFileSync } = await import("node:fs");
    const { fileURLToPath } = await import("node:url");
    const pdf = readFileSync(join(fileURLToPath(new URL(".", import.meta.url)), "../../test/fixtures/rag/two-pages.pdf"));
    const doc = await extractDocument(pdf, "r.pdf");
    const chunks = checkInvariants(doc, llamaTokenizer(model), { maxChunkTokens: 100, overlapTokens: 20 });
    assert.deepEqual([...new Set(chunks.map((c) => c.page))], [1, 2]);
    assert.ok(chunks.filter((c) => /zeppelin/.test(c.text)).every((c) => c.page === 2));
  });

  it("EmbeddingEngine.tokenizer() counts the same tokens as the model", async () => {
    const engine = await EmbeddingEngine.load({ modelPath, servedName: "e", threads: 1, batching: false, contextSize: 256, gpu: "cpu" });
    try {
      const text = "Counting tokens the embedder sees.";
      assert.deepEqual([...engine.tokenizer().encode(text)], [...model.tokenize(text, false)]);
      assert.equal(engine.tokenizer().decode(engine.tokenize(text)), model.detokenize(model.tokenize(text, false)));
    } finally {
      await engine.close();
    }
  });
});
