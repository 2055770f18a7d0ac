/**
 * Token-aware chunking with the embedding model's tokenizer.
 * Placeholder: fixed windows per section; the heading- and page-aware version replaces it.
 */
import type { Chunk, ChunkingOptions, ExtractedDocument, TextTokenizer } from "./types.js";

export const AUTO_CHUNKING: ChunkingOptions = { maxChunkTokens: 800, overlapTokens: 400 };

export function chunkDocument(doc: ExtractedDocument, tokenizer: TextTokenizer, options: ChunkingOptions = AUTO_CHUNKING): Chunk[] {
  const chunks: Chunk[] = [];
  let offset = 0;
  for (const section of doc.sections) {
    const tokens = [...tokenizer.encode(section.text)];
    const step = Math.max(1, options.maxChunkTokens - options.overlapTokens);
    for (let start = 0; start < tokens.length; start += step) {
      const piece = tokens.slice(start, start + options.maxChunkTokens);
      const text = tokenizer.decode(piece);
      const at = section.text.indexOf(text.trim());
      const charStart = offset + Math.max(0, at);
      chunks.push({ index: chunks.length, text, tokens: piece.length, page: section.page, headingPath: section.headingPath, charStart, charEnd: charStart + text.length });
      if (start + options.maxChunkTokens >= tokens.length) break;
    }
    offset += section.text.length + 2;
  }
  return chunks;
}
