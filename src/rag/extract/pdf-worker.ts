/**
 * Runs in a worker thread (see pdf.ts), reused across PDFs: parses a PDF with pdf.js (through unpdf) and posts back
 * each page's text, lines rebuilt from the text items' positions and paragraphs from larger
 * vertical gaps. Kept in a worker so a hostile PDF can be stopped (time and heap limits) without
 * harming the server.
 */
import { parentPort } from "node:worker_threads";
import { getDocumentProxy } from "unpdf";

export interface PdfWorkerInput {
  bytes: Uint8Array;
  maxPages: number;
}

export type PdfWorkerOutput =
  | { ok: true; pages: string[]; pageCount: number; title?: string }
  | { ok: false; reason: "password" | "invalid"; message: string };

interface Item {
  str: string;
  transform: number[];
  width: number;
  height: number;
  hasEOL?: boolean;
}

/** One page's text from pdf.js text items (in content-stream order, which is reading order for most PDFs). */
export function pageText(items: readonly Item[]): string {
  let text = "";
  let lastY: number | undefined;
  let lastEnd = 0;
  let lineHeight = 0;
  for (const item of items) {
    if (typeof item.str !== "string") continue;
    const x = item.transform[4] ?? 0;
    const y = item.transform[5] ?? 0;
    const height = Math.abs(item.height) || Math.abs(item.transform[3] ?? 0) || 10;
    if (lastY !== undefined && item.str !== "") {
      const dy = Math.abs(lastY - y);
      if (dy > height * 0.5) {
        if (!text.endsWith("\n")) text += "\n";
        // A gap well over a line's height marks a new paragraph.
        if (lineHeight > 0 && dy > Math.max(lineHeight, height) * 1.6 && !text.endsWith("\n\n")) text += "\n";
        lineHeight = dy;
      } else if (x - lastEnd > height * 0.15 && !/\s$/.test(text) && !/^\s/.test(item.str)) text += " ";
    }
    text += item.str;
    if (item.str !== "") {
      lastY = y;
      lastEnd = x + item.width;
    }
    if (item.hasEOL && !text.endsWith("\n")) text += "\n";
  }
  return text;
}

async function run(input: PdfWorkerInput): Promise<PdfWorkerOutput> {
  try {
    const pdf = await getDocumentProxy(input.bytes, { verbosity: 0, isEvalSupported: false, stopAtErrors: false } as object);
    if (pdf.numPages > input.maxPages) return { ok: false, reason: "invalid", message: `The PDF has ${pdf.numPages} pages; the limit is ${input.maxPages}.` };
    const pages: string[] = [];
    for (let n = 1; n <= pdf.numPages; n++) {
      const page = await pdf.getPage(n);
      const content = await page.getTextContent();
      pages.push(pageText(content.items as Item[]));
      page.cleanup();
    }
    let title: string | undefined;
    try {
      const meta = await pdf.getMetadata();
      const t = (meta.info as { Title?: unknown } | undefined)?.Title;
      if (typeof t === "string" && t.trim()) title = t.trim();
    } catch {
      // Metadata is optional.
    }
    await pdf.destroy();
    return { ok: true, pages, pageCount: pages.length, ...(title ? { title } : {}) };
  } catch (err) {
    const name = (err as { name?: string }).name ?? "";
    const message = (err as { message?: string }).message ?? String(err);
    return { ok: false, reason: name === "PasswordException" ? "password" : "invalid", message };
  }
}

// One PDF at a time: the parent sends the next only after this one's answer.
parentPort?.on("message", async (input: PdfWorkerInput & { id: number }) => {
  parentPort!.postMessage({ id: input.id, ...(await run(input)) });
});
