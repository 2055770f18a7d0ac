/**
 * PDF extraction: one section per page (1-based `page`), words hyphenated across line ends joined.
 * pdf.js runs in a worker thread with a heap limit and a deadline, so a corrupt, encrypted or
 * hostile PDF ends as an ExtractError (invalid_file) and never as a crash or a hang of the caller.
 */
import { Worker } from "node:worker_threads";
import { ExtractError, type ExtractedDocument } from "../types.js";
import { joinHyphenatedLineBreaks } from "./normalize.js";
import type { PdfWorkerInput, PdfWorkerOutput } from "./pdf-worker.js";
import { SectionBuilder } from "./sections.js";

export interface PdfLimits {
  /** Wall-clock limit for parsing one PDF. */
  timeoutMs: number;
  /** Heap limit of the parsing worker. */
  maxHeapMb: number;
  maxPages: number;
}

export function isPdf(bytes: Uint8Array): boolean {
  // The header may follow some junk, within the first 1024 bytes (as readers accept).
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 1024)).toString("latin1");
  return head.includes("%PDF-");
}

function parseInWorker(bytes: Uint8Array, limits: PdfLimits): Promise<PdfWorkerOutput> {
  return new Promise((resolve) => {
    const input: PdfWorkerInput = { bytes: Uint8Array.from(bytes), maxPages: limits.maxPages };
    const worker = new Worker(new URL("./pdf-worker.js", import.meta.url), {
      workerData: input,
      resourceLimits: { maxOldGenerationSizeMb: limits.maxHeapMb },
      stdout: true,
      stderr: true,
    });
    let settled = false;
    const finish = (result: PdfWorkerOutput) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      resolve(result);
    };
    const timer = setTimeout(() => finish({ ok: false, reason: "invalid", message: `Parsing the PDF took longer than ${limits.timeoutMs} ms.` }), limits.timeoutMs);
    worker.on("message", (m: PdfWorkerOutput) => finish(m));
    worker.on("error", (err) => finish({ ok: false, reason: "invalid", message: err.message }));
    worker.on("exit", (code) => finish({ ok: false, reason: "invalid", message: `The PDF parser stopped (exit code ${code}).` }));
  });
}

export async function extractPdf(bytes: Uint8Array, maxChars: number, limits: PdfLimits): Promise<ExtractedDocument> {
  const result = await parseInWorker(bytes, limits);
  if (!result.ok) {
    throw new ExtractError("invalid_file", result.reason === "password" ? "The PDF is encrypted with a password." : `The PDF could not be read: ${result.message}`);
  }
  const out = new SectionBuilder(maxChars);
  result.pages.forEach((text, i) => {
    out.startPage(i + 1);
    for (const paragraph of joinHyphenatedLineBreaks(text.replace(/\r\n?/g, "\n")).split(/\n[ \t]*\n/)) out.paragraph(paragraph);
  });
  return out.build({ pageCount: result.pageCount, ...(result.title ? { title: result.title } : {}) });
}
