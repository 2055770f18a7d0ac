/**
 * Token-aware chunking with the embedding model's own tokenizer, heading- and page-aware.
 *
 * The document's text is its sections joined by "\n\n" (`documentText`). Every chunk is an exact
 * slice of it: `documentText(doc).slice(chunk.charStart, chunk.charEnd) === chunk.text`, with no
 * leading or trailing whitespace. `chunk.tokens` is `tokenizer.encode(chunk.text).length` and is at
 * most `maxChunkTokens`; the text two consecutive chunks share encodes to at most `overlapTokens`.
 *
 * Chunks never cross a hard boundary: a change of page, or of top-level heading (`headingPath[0]`).
 * Inside those limits a chunk is filled up to the token limit and then ended at the strongest
 * boundary in its second half: a subsection heading, then a paragraph, a sentence, a line, a word,
 * and only for text with no spaces at all, any character (never inside a surrogate pair). A chunk's
 * `headingPath` is the heading path its sections share (the section's own path when it spans one).
 * Semantics follow OpenAI's vector stores: `auto` is 800 tokens with 400 of overlap; `static`
 * allows 100–4096 tokens with an overlap of at most half.
 */
import type { Chunk, ChunkingOptions, DocumentSection, ExtractedDocument, TextTokenizer } from "./types.js";

export const AUTO_CHUNKING: ChunkingOptions = { maxChunkTokens: 800, overlapTokens: 400 };
/** OpenAI's limits for the static strategy. */
export const STATIC_CHUNKING_LIMITS = { minChunkTokens: 100, maxChunkTokens: 4096 } as const;

/** Separator between sections in the document's text (and so in chunk offsets). */
export const SECTION_SEPARATOR = "\n\n";

/** The text chunk offsets point into: the sections' texts joined by "\n\n". */
export function documentText(doc: ExtractedDocument): string {
  return doc.sections.map((s) => s.text).join(SECTION_SEPARATOR);
}

/** Checks options against OpenAI's static strategy rules; returns an error message or undefined. */
export function validateChunkingOptions(options: ChunkingOptions): string | undefined {
  const { maxChunkTokens: max, overlapTokens: overlap } = options;
  if (!Number.isInteger(max) || max < STATIC_CHUNKING_LIMITS.minChunkTokens || max > STATIC_CHUNKING_LIMITS.maxChunkTokens) {
    return `max_chunk_size_tokens must be an integer from ${STATIC_CHUNKING_LIMITS.minChunkTokens} to ${STATIC_CHUNKING_LIMITS.maxChunkTokens}`;
  }
  if (!Number.isInteger(overlap) || overlap < 0 || overlap > max / 2) return "chunk_overlap_tokens must be an integer from 0 to half of max_chunk_size_tokens";
  return undefined;
}

/** Break strengths: how good a place to end a chunk is just before a unit. */
export const BREAK = { section: 4, paragraph: 3, sentence: 2, line: 1, word: 0, character: -1 } as const;

interface Unit {
  start: number;
  end: number;
  tokens: number;
  /** Strength of the break just before this unit. */
  strength: number;
  section: number;
}

const SENTENCE_END = /[.!?…;:。！？]["'’”»)\]]*$/u;
const CJK_STOP = new Set(["。", "！", "？"]);

/** Splits a section's text at whitespace runs and CJK full stops, with the strength of each break. */
function sectionBreaks(text: string): Array<{ at: number; strength: number }> {
  const breaks: Array<{ at: number; strength: number }> = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 9 || c === 13) {
      const runStart = i;
      let newlines = 0;
      while (i < n) {
        const d = text.charCodeAt(i);
        if (d === 10) newlines++;
        else if (d !== 32 && d !== 9 && d !== 13) break;
        i++;
      }
      if (runStart === 0 || i >= n) continue;
      const before = text.slice(Math.max(0, runStart - 4), runStart);
      const strength = newlines >= 2 ? BREAK.paragraph : SENTENCE_END.test(before) ? BREAK.sentence : newlines === 1 ? BREAK.line : BREAK.word;
      breaks.push({ at: i, strength });
      continue;
    }
    i++;
    if (CJK_STOP.has(text[i - 1]!) && i < n && !/\s/.test(text[i]!)) breaks.push({ at: i, strength: BREAK.sentence });
  }
  return breaks;
}

/** Is `at` inside a surrogate pair? */
function splitsPair(text: string, at: number): boolean {
  const c = text.charCodeAt(at);
  return at > 0 && at < text.length && c >= 0xdc00 && c <= 0xdfff;
}

class Chunker {
  private readonly text: string;
  private readonly units: Unit[] = [];

  constructor(private readonly doc: ExtractedDocument, private readonly tokenizer: TextTokenizer, private readonly options: ChunkingOptions) {
    this.text = documentText(doc);
  }

  private count(start: number, end: number): number {
    return end > start ? this.tokenizer.encode(this.text.slice(start, end)).length : 0;
  }

  /**
   * Adds [start, end) as units of at most maxChunkTokens. A longer span (a paragraph with no
   * sentence or line breaks) is cut into pieces of about a quarter of the limit (or half the
   * overlap), at a space where there is one near the cut, else between two characters, so the
   * packer still has room to fill chunks and overlap them.
   */
  private addUnit(start: number, end: number, strength: number, section: number): void {
    const tokens = this.count(start, end);
    if (tokens <= this.options.maxChunkTokens || end - start <= 1) {
      this.units.push({ start, end, tokens, strength, section });
      return;
    }
    const { maxChunkTokens: max, overlapTokens: overlap } = this.options;
    const pieceTokens = Math.max(1, Math.floor(overlap > 0 ? Math.min(max / 4, overlap / 2) : max / 4));
    const target = Math.max(1, Math.min(end - start - 1, Math.floor(((end - start) * pieceTokens) / tokens)));
    const space = (p: number) => /\s/.test(this.text[p]!);
    let s = start;
    let before = strength;
    while (s < end) {
      let e = Math.min(end, s + target);
      let cut: number = BREAK.word;
      if (e < end) {
        let p = e;
        while (p > s + target / 2 && !(space(p - 1) && !space(p))) p--;
        if (p > s + target / 2) e = p;
        else {
          cut = BREAK.character;
          if (splitsPair(this.text, e)) e++;
          while (e < end && space(e)) e++; // the next piece starts at a visible character
        }
      }
      // A piece that is the whole span (text then only whitespace) cannot shrink: keep it; the
      // chunk's own count leaves the trailing whitespace out.
      if (s === start && e === end) this.units.push({ start, end, tokens, strength, section });
      else this.addUnit(s, e, before, section);
      s = e;
      before = cut;
    }
  }

  /** Units of each group (a run of sections on one page under one top-level heading). */
  private buildUnits(): Array<[number, number]> {
    const groups: Array<[number, number]> = [];
    let offset = 0;
    let groupKey: string | undefined;
    this.doc.sections.forEach((section: DocumentSection, s) => {
      const key = JSON.stringify([section.page ?? null, section.headingPath[0] ?? null]);
      if (key !== groupKey) {
        if (groups.length) groups[groups.length - 1]![1] = this.units.length;
        groups.push([this.units.length, this.units.length]);
        groupKey = key;
      }
      const lead = section.text.length - section.text.trimStart().length;
      const points = [{ at: lead, strength: BREAK.section }, ...sectionBreaks(section.text).filter((b) => b.at > lead && b.strength >= BREAK.line)];
      for (let i = 0; i < points.length; i++) {
        const end = i + 1 < points.length ? points[i + 1]!.at : section.text.length;
        if (end > points[i]!.at && section.text.slice(points[i]!.at, end).trim()) this.addUnit(offset + points[i]!.at, offset + end, points[i]!.strength, s);
      }
      offset += section.text.length + SECTION_SEPARATOR.length;
    });
    if (groups.length) groups[groups.length - 1]![1] = this.units.length;
    return groups.filter(([a, b]) => b > a);
  }

  /** End offset of units [i, k) without trailing whitespace. */
  private endOf(k: number): number {
    const u = this.units[k - 1]!;
    let end = u.end;
    while (end > u.start && /\s/.test(this.text[end - 1]!)) end--;
    return end;
  }

  private headingPath(i: number, k: number): string[] {
    let path = this.doc.sections[this.units[i]!.section]!.headingPath;
    for (let s = this.units[i]!.section + 1; s <= this.units[k - 1]!.section; s++) {
      const other = this.doc.sections[s]!.headingPath;
      let n = 0;
      while (n < path.length && n < other.length && path[n] === other[n]) n++;
      path = path.slice(0, n);
    }
    return [...path];
  }

  run(): Chunk[] {
    const { maxChunkTokens: max, overlapTokens: overlap } = this.options;
    const chunks: Chunk[] = [];
    for (const [groupStart, groupEnd] of this.buildUnits()) {
      let i = groupStart;
      let covered = groupStart; // units before this are in an earlier chunk
      for (;;) {
        // Fill up to the limit (by the units' own counts), taking at least one new unit.
        let j = i;
        let sum = 0;
        while (j < groupEnd && (j <= covered || sum + this.units[j]!.tokens <= max)) sum += this.units[j++]!.tokens;
        // End at the strongest break in the second half of the chunk (the latest of equals).
        let k = j;
        if (j < groupEnd) {
          let best = -Infinity;
          let prefix = 0;
          for (let c = i + 1; c <= j; c++) {
            prefix += this.units[c - 1]!.tokens;
            if (c <= covered || (prefix < max / 2 && c < j)) continue;
            const strength = c < groupEnd ? this.units[c]!.strength : BREAK.section;
            if (strength >= best) {
              best = strength;
              k = c;
            }
          }
        }
        // The exact count can differ from the sum of the parts: shrink until it fits.
        let tokens = this.count(this.units[i]!.start, this.endOf(k));
        while (tokens > max && k > Math.max(i + 1, covered + 1)) tokens = this.count(this.units[i]!.start, this.endOf(--k));
        while (tokens > max && i < covered) tokens = this.count(this.units[++i]!.start, this.endOf(k));
        const charStart = this.units[i]!.start;
        const charEnd = this.endOf(k);
        const chunk: Chunk = { index: chunks.length, text: this.text.slice(charStart, charEnd), tokens, headingPath: this.headingPath(i, k), charStart, charEnd };
        const page = this.doc.sections[this.units[i]!.section]!.page;
        if (page !== undefined) chunk.page = page;
        chunks.push(chunk);
        covered = k;
        if (k >= groupEnd) break;
        // Step back over up to `overlap` tokens of whole units for the next chunk's start.
        let next = k;
        let shared = 0;
        // A chunk that ends where a section starts is not overlapped: the next one starts at the heading.
        while (next - 1 > i && this.units[next]!.strength !== BREAK.section && shared + this.units[next - 1]!.tokens <= overlap) shared += this.units[--next]!.tokens;
        while (next < k && this.count(this.units[next]!.start, charEnd) > overlap) next++;
        i = next;
      }
    }
    return chunks;
  }
}

/**
 * Splits a document into chunks of at most `options.maxChunkTokens` tokens of `tokenizer` (see the
 * module comment for the guarantees). Assumes options are valid (validateChunkingOptions).
 */
export function chunkDocument(doc: ExtractedDocument, tokenizer: TextTokenizer, options: ChunkingOptions = AUTO_CHUNKING): Chunk[] {
  const opts = { maxChunkTokens: Math.max(1, Math.floor(options.maxChunkTokens)), overlapTokens: Math.max(0, Math.floor(options.overlapTokens)) };
  opts.overlapTokens = Math.min(opts.overlapTokens, Math.floor(opts.maxChunkTokens / 2));
  return new Chunker(doc, tokenizer, opts).run();
}
