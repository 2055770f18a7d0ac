/** Shared by the chunking tests: deterministic tokenizers and the check of every guarantee chunk.ts documents. */
import assert from "node:assert/strict";
import { chunkDocument, documentText } from "../src/rag/chunk.js";
import type { Chunk, ChunkingOptions, ExtractedDocument, TextTokenizer } from "../src/rag/types.js";

/** One token per code point: exact and easy to reason about. */
export const charTokenizer: TextTokenizer = {
  encode: (t) => Array.from(t, (c) => c.codePointAt(0)!),
  decode: (ids) => String.fromCodePoint(...ids),
};

/** One token per word or punctuation mark (whitespace is free), like a word-level model. */
export function wordTokenizer(): TextTokenizer {
  const vocab: string[] = [];
  const ids = new Map<string, number>();
  return {
    encode: (t) => (t.match(/\w+|[^\w\s]/gu) ?? []).map((w) => ids.get(w) ?? (ids.set(w, vocab.push(w) - 1), vocab.length - 1)),
    decode: (tokens) => tokens.map((i) => vocab[i]).join(" "),
  };
}

/** Every guarantee chunk.ts documents; returns the chunks for further checks. */
export function checkInvariants(doc: ExtractedDocument, tokenizer: TextTokenizer, options: ChunkingOptions): Chunk[] {
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

export const sentence = (topic: string, i: number) => `The ${topic} item number ${i} is described here in plain words.`;
export const paragraph = (topic: string, n: number, from = 0) => Array.from({ length: n }, (_, i) => sentence(topic, from + i)).join(" ");
