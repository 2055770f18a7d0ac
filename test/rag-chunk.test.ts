/**
 * Chunking: the documented invariants (exact offsets, token limit, overlap limit, full coverage,
 * no chunk across pages or top-level sections) on a deterministic tokenizer, random documents
 * (fast-check) and a generated embedding model's real tokenizer; boundary preferences; options.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { getLlama, LlamaLogLevel, type LlamaModel } from "node-llama-cpp";
import { AUTO_CHUNKING, chunkDocument, documentText, validateChunkingOptions } from "../src/rag/chunk.js";
import { extractDocument } from "../src/rag/extract.js";
import { llamaTokenizer } from "../src/rag/tokenizer.js";
import type { Chunk, ChunkingOptions, ExtractedDocument, TextTokenizer } from "../src/rag/types.js";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { EmbeddingEngine } from "../src/engine/embedding-engine.js";
import { tempDir } from "./helpers.js";

/** One token per code point: exact and easy to reason about. */
const charTokenizer: TextTokenizer = {
  encode: (t) => Array.from(t, (c) => c.codePointAt(0)!),
  decode: (ids) => String.fromCodePoint(...ids),
};

/** One token per word or punctuation mark (whitespace is free), like a word-level model. */
function wordTokenizer(): TextTokenizer {
  const vocab: string[] = [];
  const ids = new Map<string, number>();
  return {
    encode: (t) => (t.match(/\w+|[^\w\s]/gu) ?? []).map((w) => ids.get(w) ?? (ids.set(w, vocab.push(w) - 1), vocab.length - 1)),
    decode: (tokens) => tokens.map((i) => vocab[i]).join(" "),
  };
}

/** Every guarantee chunk.ts documents; returns the chunks for further checks. */
function checkInvariants(doc: ExtractedDocument, tokenizer: TextTokenizer, options: ChunkingOptions): Chunk[] {
  const chunks = chunkDocument(doc, tokenizer, options);
  const full = documentText(doc);
  // Section spans in the full text, to find which sections a chunk touches.
  const spans: Array<{ start: number; end: number; page?: number; top: string | undefined; path: string[] }> = [];
  let at = 0;
  for (const s of doc.sections) {
    spans.push({ start: at, end: at + s.text.length, page: s.page, top: s.headingPath[0], path: s.headingPath });
    at += s.text.length + 2;
  }
  chunks.forEach((c, i) => {
    assert.equal(c.index, i);
    assert.equal(full.slice(c.charStart, c.charEnd), c.text, `chunk ${i}: text is the slice at its offsets`);
    assert.equal(c.text, c.text.trim(), `chunk ${i}: no surrounding whitespace`);
    assert.ok(c.text.length > 0);
    assert.equal(c.tokens, tokenizer.encode(c.text).length, `chunk ${i}: tokens counted exactly`);
    assert.ok(c.tokens <= options.maxChunkTokens, `chunk ${i}: ${c.tokens} tokens > ${options.maxChunkTokens}`);
    const touched = spans.filter((s) => s.start < c.charEnd && c.charStart < s.end);
    assert.ok(touched.length >= 1);
    assert.equal(new Set(touched.map((s) => s.page)).size, 1, `chunk ${i} spans pages`);
    assert.equal(new Set(touched.map((s) => s.top)).size, 1, `chunk ${i} spans top-level sections`);
    assert.equal(c.page, touched[0]!.page);
    if (touched.length === 1) assert.deepEqual(c.headingPath, touched[0]!.path);
    for (const s of touched) assert.deepEqual(s.path.slice(0, c.headingPath.length), c.headingPath, `chunk ${i}: heading path is shared by its sections`);
    if (i > 0) {
      const prev = chunks[i - 1]!;
      assert.ok(c.charStart > prev.charStart, "chunks move forward");
      if (c.charStart < prev.charEnd) {
        const shared = tokenizer.encode(full.slice(c.charStart, prev.charEnd)).length;
        assert.ok(shared <= options.overlapTokens, `chunks ${i - 1}/${i} share ${shared} tokens > ${options.overlapTokens}`);
      }
    }
  });
  // Coverage: every non-space character is in some chunk.
  const covered = new Uint8Array(full.length);
  for (const c of chunks) covered.fill(1, c.charStart, c.charEnd);
  for (let p = 0; p < full.length; p++) if (!/\s/.test(full[p]!)) assert.equal(covered[p], 1, `character ${p} (${JSON.stringify(full.slice(p, p + 20))}) is in no chunk`);
  return chunks;
}

const sentence = (topic: string, i: number) => `The ${topic} item number ${i} is described here in plain words.`;
const paragraph = (topic: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => sentence(topic, from + i)).join(" ");

describe("chunking invariants", () => {
  it("AUTO_CHUNKING is OpenAI's auto strategy and options are checked as OpenAI's static strategy", () => {
    assert.deepEqual(AUTO_CHUNKING, { maxChunkTokens: 800, overlapTokens: 400 });
    assert.equal(validateChunkingOptions({ maxChunkTokens: 100, overlapTokens: 50 }), undefined);
    assert.equal(validateChunkingOptions({ maxChunkTokens: 4096, overlapTokens: 0 }), undefined);
    assert.match(validateChunkingOptions({ maxChunkTokens: 99, overlapTokens: 0 })!, /100 to 4096/);
    assert.match(validateChunkingOptions({ maxChunkTokens: 4097, overlapTokens: 0 })!, /100 to 4096/);
    assert.match(validateChunkingOptions({ maxChunkTokens: 200, overlapTokens: 101 })!, /half/);
    assert.match(validateChunkingOptions({ maxChunkTokens: 200.5, overlapTokens: 1 })!, /integer/);
  });

  it("headings and pages are kept; no chunk crosses a page or a top-level section", () => {
    const doc: ExtractedDocument = {
      sections: [
        { text: `Alpha\n\n${paragraph("alpha", 12)}`, headingPath: ["Alpha"], page: 1 },
        { text: `Sub\n\n${paragraph("sub", 3)}`, headingPath: ["Alpha", "Sub"], page: 1 },
        { text: paragraph("alpha", 10, 12), headingPath: ["Alpha"], page: 2 },
        { text: `Beta\n\n${paragraph("beta", 2)}`, headingPath: ["Beta"], page: 2 },
      ],
    };
    const chunks = checkInvariants(doc, charTokenizer, { maxChunkTokens: 300, overlapTokens: 100 });
    assert.deepEqual([...new Set(chunks.map((c) => c.page))], [1, 2]);
    const beta = chunks.filter((c) => c.text.includes("beta"));
    assert.equal(beta.length, 1, "a small last section is one chunk of its own");
    assert.deepEqual(beta[0]!.headingPath, ["Beta"]);
    assert.ok(beta[0]!.text.startsWith("Beta"), "a chunk starts at its section's heading");
    assert.ok(chunks.some((c) => c.headingPath.join(">") === "Alpha>Sub"), "a subsection's own chunk keeps its full path");
  });

  it("prefers ending at a paragraph, then a sentence, then a word", () => {
    const p1 = paragraph("one", 4); // ~250 chars
    const p2 = paragraph("two", 4);
    const doc: ExtractedDocument = { sections: [{ text: `${p1}\n\n${p2}`, headingPath: [] }] };
    const [first] = checkInvariants(doc, charTokenizer, { maxChunkTokens: 400, overlapTokens: 0 });
    assert.equal(first!.text, p1, "ends at the paragraph break, not at the token limit");
    const long = paragraph("x", 20);
    const bySentence = checkInvariants({ sections: [{ text: long, headingPath: [] }] }, charTokenizer, { maxChunkTokens: 300, overlapTokens: 0 });
    for (const c of bySentence.slice(0, -1)) assert.match(c.text, /words\.$/, "ends at a sentence end");
    const words = Array.from({ length: 400 }, (_, i) => `w${i}`).join(" ");
    for (const c of checkInvariants({ sections: [{ text: words, headingPath: [] }] }, charTokenizer, { maxChunkTokens: 100, overlapTokens: 30 })) {
      assert.match(c.text, /^w\d+( w\d+)*$/, "ends between words");
    }
  });

  it("overlap: consecutive chunks share text up to the overlap, starting at a unit boundary", () => {
    const doc: ExtractedDocument = { sections: [{ text: paragraph("lap", 40), headingPath: [] }] };
    const chunks = checkInvariants(doc, charTokenizer, { maxChunkTokens: 400, overlapTokens: 200 });
    assert.ok(chunks.length > 3);
    for (let i = 1; i < chunks.length; i++) {
      assert.ok(chunks[i]!.charStart < chunks[i - 1]!.charEnd, "consecutive chunks overlap");
      assert.match(chunks[i]!.text, /^The lap item/, "overlap starts at a sentence");
    }
    const none = checkInvariants(doc, charTokenizer, { maxChunkTokens: 400, overlapTokens: 0 });
    for (let i = 1; i < none.length; i++) assert.ok(none[i]!.charStart >= none[i - 1]!.charEnd);
  });

  it("text without spaces, CJK full stops and astral characters are cut without breaking a character", () => {
    const astral = "😀".repeat(500);
    const cjk = "这是一个句子。".repeat(100);
    const doc: ExtractedDocument = { sections: [{ text: "x".repeat(1000), headingPath: [] }, { text: astral, headingPath: ["E"] }, { text: cjk, headingPath: ["C"] }] };
    const chunks = checkInvariants(doc, charTokenizer, { maxChunkTokens: 120, overlapTokens: 60 });
    for (const c of chunks) assert.doesNotMatch(c.text, /^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/, "no lone surrogate at a chunk edge");
    for (const c of chunks.filter((c) => c.headingPath[0] === "C").slice(0, -1)) assert.match(c.text, /。$/, "CJK chunks end at a full stop");
  });

  it("empty documents and whitespace-only sections give no chunks; tiny limits still hold", () => {
    assert.deepEqual(chunkDocument({ sections: [] }, charTokenizer), []);
    assert.deepEqual(chunkDocument({ sections: [{ text: " \n\n ", headingPath: [] }] }, charTokenizer), []);
    checkInvariants({ sections: [{ text: "  padded text  ", headingPath: [] }] }, charTokenizer, { maxChunkTokens: 3, overlapTokens: 1 });
  });

  it("random documents keep every invariant (fast-check)", () => {
    const word = fc.oneof(fc.stringMatching(/^[a-zé]{1,12}$/), fc.constantFrom("😀", "a😀b", "ﬁx"));
    const sep = fc.constantFrom(" ", " ", " ", ". ", "\n", "\n\n", "! ", "。");
    const text = fc.array(fc.tuple(word, sep), { minLength: 1, maxLength: 120 }).map((parts) => parts.map(([w, s]) => w + s).join("").trim()).filter((t) => t.length > 0);
    const section = fc.record({ text, headingPath: fc.array(fc.constantFrom("A", "B", "C"), { maxLength: 3 }), page: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }) });
    const options = fc.integer({ min: 2, max: 120 }).chain((max) => fc.record({ maxChunkTokens: fc.constant(max), overlapTokens: fc.integer({ min: 0, max: Math.floor(max / 2) }) }));
    fc.assert(fc.property(fc.array(section, { minLength: 1, maxLength: 6 }), options, fc.boolean(), (sections, opts, words) => {
      const doc: ExtractedDocument = { sections: sections.map((s) => (s.page === undefined ? { text: s.text, headingPath: s.headingPath } : s)) };
      checkInvariants(doc, words ? wordTokenizer() : charTokenizer, opts);
    }), { numRuns: 150, seed: 20261130 });
  });

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
