/**
 * Chunking without a model: the documented invariants (exact offsets, token limit, overlap limit,
 * full coverage, no chunk across pages or top-level sections) on deterministic tokenizers and
 * random documents (fast-check), boundary preferences, options, and exact chunks of small documents.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { AUTO_CHUNKING, chunkDocument, validateChunkingOptions } from "../src/rag/chunk.js";
import type { ExtractedDocument } from "../src/rag/types.js";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { charTokenizer, checkInvariants, paragraph, wordTokenizer } from "./chunk-check.js";
import { LAYOUT_DOCS, LAYOUT_OPTIONS, layoutsOf } from "./chunk-layouts.js";

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
});

describe("chunking: exact chunks of small documents", () => {
  type Row = [text: string, charStart: number, charEnd: number, tokens: number, headingPath: string[], page?: number];
  const rows = (doc: ExtractedDocument, options: { maxChunkTokens: number; overlapTokens: number }): Row[] =>
    checkInvariants(doc, charTokenizer, options).map((c) => (c.page === undefined ? [c.text, c.charStart, c.charEnd, c.tokens, c.headingPath] : [c.text, c.charStart, c.charEnd, c.tokens, c.headingPath, c.page]));

  it("ends at a sentence, then a line, then a paragraph, filling up to the limit", () => {
    const doc: ExtractedDocument = { sections: [{ text: "aaa bbb. ccc\nddd\n\neee fff", headingPath: [] }] };
    assert.deepEqual(rows(doc, { maxChunkTokens: 12, overlapTokens: 0 }), [["aaa bbb.", 0, 8, 8, []], ["ccc\nddd", 9, 16, 7, []], ["eee fff", 18, 25, 7, []]]);
    assert.deepEqual(rows(doc, { maxChunkTokens: 12, overlapTokens: 6 }), [["aaa bbb.", 0, 8, 8, []], ["ccc\nddd", 9, 16, 7, []], ["ddd\n\neee fff", 13, 25, 12, []]]);
    assert.deepEqual(rows(doc, { maxChunkTokens: 100, overlapTokens: 0 }), [["aaa bbb. ccc\nddd\n\neee fff", 0, 25, 25, []]]);
  });

  it("keeps sections under one top-level heading together, with the heading path they share", () => {
    const doc: ExtractedDocument = { sections: [{ text: "H1\n\nab cd", headingPath: ["H1"], page: 1 }, { text: "H2\n\nef gh", headingPath: ["H1", "H2"], page: 1 }, { text: "ij", headingPath: ["H1", "H3"], page: 1 }] };
    assert.deepEqual(rows(doc, { maxChunkTokens: 100, overlapTokens: 0 }), [["H1\n\nab cd\n\nH2\n\nef gh\n\nij", 0, 24, 24, ["H1"], 1]]);
    assert.deepEqual(rows({ sections: doc.sections.slice(1) }, { maxChunkTokens: 100, overlapTokens: 0 }), [["H2\n\nef gh\n\nij", 0, 13, 13, ["H1"], 1]]);
    assert.deepEqual(rows({ sections: [doc.sections[1]!] }, { maxChunkTokens: 100, overlapTokens: 0 }), [["H2\n\nef gh", 0, 9, 9, ["H1", "H2"], 1]]);
    // A new page or a new top-level heading starts a new chunk.
    assert.deepEqual(rows({ sections: [{ text: "a b", headingPath: ["A"], page: 1 }, { text: "c", headingPath: ["A"], page: 2 }, { text: "d", headingPath: ["B"], page: 2 }, { text: "e", headingPath: ["B", "x"], page: 2 }] }, { maxChunkTokens: 100, overlapTokens: 10 }), [
      ["a b", 0, 3, 3, ["A"], 1], ["c", 5, 6, 1, ["A"], 2], ["d\n\ne", 8, 12, 4, ["B"], 2],
    ]);
    // A section starting a chunk's next part is not overlapped: the next chunk starts at its heading.
    assert.deepEqual(rows({ sections: [{ text: "aaaa bbbb", headingPath: ["A"] }, { text: "cccc dddd", headingPath: ["A", "s"] }] }, { maxChunkTokens: 12, overlapTokens: 6 }), [
      ["aaaa bbbb", 0, 9, 9, ["A"]], ["cccc dddd", 11, 20, 9, ["A", "s"]],
    ]);
  });

  it("cuts text without spaces between characters, overlapping by whole pieces", () => {
    const doc: ExtractedDocument = { sections: [{ text: "abcdefghij", headingPath: [] }] };
    assert.deepEqual(rows(doc, { maxChunkTokens: 4, overlapTokens: 2 }), [["abcd", 0, 4, 4, []], ["cdef", 2, 6, 4, []], ["efgh", 4, 8, 4, []], ["ghij", 6, 10, 4, []]]);
    assert.deepEqual(rows(doc, { maxChunkTokens: 4, overlapTokens: 0 }), [["abcd", 0, 4, 4, []], ["efgh", 4, 8, 4, []], ["ij", 8, 10, 2, []]]);
    assert.deepEqual(rows({ sections: [{ text: "😀😀😀", headingPath: [] }] }, { maxChunkTokens: 2, overlapTokens: 0 }), [["😀😀", 0, 4, 2, []], ["😀", 4, 6, 1, []]]);
  });

  it("cuts a long line at spaces when pieces are longer than words", () => {
    const text = "alpha beta gamma delta epsilon zeta eta theta iota kappa";
    const chunks = rows({ sections: [{ text, headingPath: [] }] }, { maxChunkTokens: 24, overlapTokens: 0 });
    assert.deepEqual(chunks.map((c) => c[0]), ["alpha beta gamma delta", "epsilon zeta eta theta", "iota kappa"]);
  });

  it("normalises options: at least one token, whole numbers, overlap at most half", () => {
    const doc: ExtractedDocument = { sections: [{ text: "  lead", headingPath: ["A"] }, { text: "x", headingPath: ["B"], page: 3 }] };
    assert.deepEqual(chunkDocument(doc, charTokenizer, { maxChunkTokens: 0, overlapTokens: 9 }).map((c) => [c.text, c.charStart, c.headingPath, c.page]), [
      ["l", 2, ["A"], undefined], ["e", 3, ["A"], undefined], ["a", 4, ["A"], undefined], ["d", 5, ["A"], undefined], ["x", 8, ["B"], 3],
    ]);
    const abc: ExtractedDocument = { sections: [{ text: "abcdefghij", headingPath: [] }] };
    assert.deepEqual(chunkDocument(abc, charTokenizer, { maxChunkTokens: 4.9, overlapTokens: 2.9 }), chunkDocument(abc, charTokenizer, { maxChunkTokens: 4, overlapTokens: 2 }));
    assert.deepEqual(chunkDocument(abc, charTokenizer, { maxChunkTokens: 4, overlapTokens: 3 }), chunkDocument(abc, charTokenizer, { maxChunkTokens: 4, overlapTokens: 2 }));
    assert.deepEqual(chunkDocument(abc, charTokenizer, { maxChunkTokens: 4, overlapTokens: -3 }), chunkDocument(abc, charTokenizer, { maxChunkTokens: 4, overlapTokens: 0 }));
    assert.deepEqual(chunkDocument(abc, charTokenizer).map((c) => c.text), ["abcdefghij"], "AUTO_CHUNKING by default");
  });

  it("says what is wrong with static options", () => {
    const size = "max_chunk_size_tokens must be an integer from 100 to 4096";
    const overlap = "chunk_overlap_tokens must be an integer from 0 to half of max_chunk_size_tokens";
    const cases: Array<[number, number, string | undefined]> = [
      [100, 0, undefined], [100, 50, undefined], [4096, 2048, undefined], [99, 0, size], [4097, 0, size], [100.5, 0, size], [Number.NaN, 0, size],
      [100, 51, overlap], [100, -1, overlap], [200, 1.5, overlap], [101, 50.5, overlap], [101, 50, undefined],
    ];
    for (const [maxChunkTokens, overlapTokens, message] of cases) assert.equal(validateChunkingOptions({ maxChunkTokens, overlapTokens }), message, `${maxChunkTokens}/${overlapTokens}`);
  });
});

describe("chunking: pinned layouts", () => {
  it("chunks small documents exactly as before (every break kind, packing rule and cut)", () => {
    for (const doc of Object.values(LAYOUT_DOCS)) for (const options of LAYOUT_OPTIONS) checkInvariants(doc, charTokenizer, options);
    const pinned = JSON.parse(readFileSync(fileURLToPath(new URL("../../test/fixtures/rag/chunk-layouts.json", import.meta.url)), "utf8"));
    const now = layoutsOf();
    for (const name of Object.keys(LAYOUT_DOCS)) assert.deepEqual(now[name], pinned[name], name);
    assert.deepEqual(Object.keys(now), Object.keys(pinned));
  });
});
