/** Small documents chosen to exercise each break kind and each packing rule of chunk.ts; rag-chunk-unit.test.ts pins their exact chunk layouts. */
import { chunkDocument } from "../src/rag/chunk.js";
import type { ChunkingOptions, ExtractedDocument } from "../src/rag/types.js";

const s = (text: string, headingPath: string[] = [], page?: number) => (page === undefined ? { text, headingPath } : { text, headingPath, page });

export const LAYOUT_DOCS: Record<string, ExtractedDocument> = {
  punctuation: { sections: [s("One! Two? Three… Four; Five: Six. \"Seven.\" Eight.) Nine.] Ten.» Eleven.’ Twelve.” End")] },
  cjk: { sections: [s("这是一个句子。这是第二句！第三句？最后一句没有结束")] },
  cjkSpaced: { sections: [s("句子。 下一句。\n再一句")] },
  whitespace: { sections: [s("  lead\tword \r\nline two\n \nafter blank\r\n\r\nlast  ")] },
  lines: { sections: [s("alpha beta\ngamma delta\nepsilon zeta\neta theta\niota kappa")] },
  words: { sections: [s("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho")] },
  nospace: { sections: [s("abcdefghijklmnopqrstuvwxyz0123456789")] },
  astral: { sections: [s("a😀b😀c😀d😀e😀f😀g😀h😀")] },
  astralOnly: { sections: [s("😀😀😀😀😀😀😀😀😀")] },
  spacedRun: { sections: [s("abcdefghij      klmnopqrst")] },
  headings: {
    sections: [
      s("Top\n\nintro text here.", ["Top"], 1),
      s("Sub A\n\nfirst sub text. more words.", ["Top", "A"], 1),
      s("Sub A1\n\ndeep text.", ["Top", "A", "1"], 1),
      s("Sub A2\n\ndeeper text.", ["Top", "A", "2"], 1),
      s("Sub B\n\nsecond sub.", ["Top", "B"], 1),
      s("continued on page two.", ["Top", "B"], 2),
      s("Other\n\nother text.", ["Other"], 2),
      s("   ", ["Other"], 2),
      s("tail.", [], 2),
    ],
  },
  paragraphs: { sections: [s("First paragraph has words. And a sentence.\n\nSecond paragraph is here. It ends.\n\nThird one.\nWith a line.\n\nFourth.")] },
  longSentences: { sections: [s("Aaaa bbbb cccc dddd eeee. Ffff gggg hhhh iiii jjjj. Kkkk llll mmmm nnnn oooo. Pppp qqqq rrrr ssss tttt.")] },
};

export const LAYOUT_OPTIONS: ChunkingOptions[] = [
  { maxChunkTokens: 6, overlapTokens: 0 },
  { maxChunkTokens: 6, overlapTokens: 3 },
  { maxChunkTokens: 12, overlapTokens: 0 },
  { maxChunkTokens: 12, overlapTokens: 5 },
  { maxChunkTokens: 30, overlapTokens: 10 },
  { maxChunkTokens: 45, overlapTokens: 20 },
];

/**
 * Each document's chunks under each option set with one token per code point, as
 * [charStart, charEnd, heading path joined by "/", page or 0]. Regenerate the pinned copy after a
 * deliberate change of the chunker (and read the diff):
 * node -e 'import("./dist/test/chunk-layouts.js").then((m) => console.log(JSON.stringify(m.layoutsOf())))' > test/fixtures/rag/chunk-layouts.json
 */
export function layoutsOf(): Record<string, Array<Array<[number, number, string, number]>>> {
  const tokenizer = { encode: (t: string) => Array.from(t, (c) => c.codePointAt(0)!), decode: (ids: number[]) => String.fromCodePoint(...ids) };
  return Object.fromEntries(Object.entries(LAYOUT_DOCS).map(([name, doc]) => [name, LAYOUT_OPTIONS.map((o) => chunkDocument(doc, tokenizer, o).map((c): [number, number, string, number] => [c.charStart, c.charEnd, c.headingPath.join("/"), c.page ?? 0]))]));
}
