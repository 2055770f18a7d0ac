/**
 * Document extraction: file bytes to text sections (page and heading aware).
 * Placeholder with plain text and Markdown only; the full set of formats replaces it.
 */
import { extname } from "node:path";
import { ExtractError, type DocumentSection, type ExtractedDocument } from "./types.js";

export async function extractDocument(bytes: Uint8Array, filename: string, _mimeType?: string): Promise<ExtractedDocument> {
  const ext = extname(filename).toLowerCase();
  if (![".txt", ".md", ".markdown", ""].includes(ext)) throw new ExtractError("unsupported_file", `Unsupported file type: ${ext || "(none)"}`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ExtractError("invalid_file", "The file is not valid UTF-8 text.");
  }
  const sections: DocumentSection[] = [];
  const headings: string[] = [];
  let current: string[] = [];
  const flush = () => {
    const t = current.join("\n").trim();
    if (t) sections.push({ text: t, headingPath: [...headings] });
    current = [];
  };
  for (const line of text.split(/\r?\n/)) {
    const h = ext !== ".txt" ? /^(#{1,6})\s+(.*)$/.exec(line) : null;
    if (h) {
      flush();
      headings.splice(h[1]!.length - 1);
      headings[h[1]!.length - 1] = h[2]!.trim();
      while (headings.length && headings[headings.length - 1] === undefined) headings.pop();
      current.push(line);
    } else current.push(line);
  }
  flush();
  return { sections };
}
