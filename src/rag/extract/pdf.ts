/**
 * PDF extraction: one section per page (1-based `page`), words hyphenated across line ends joined.
 * pdf.js runs in a worker thread (reused) with a heap limit and a deadline, so a corrupt, encrypted or
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

/**
 * The parsing worker, kept between PDFs (starting one and loading pdf.js costs far more than a
 * small PDF's parse). Jobs run one at a time; a job past its deadline, or a worker that dies
 * (heap limit), ends that job as invalid and the next job gets a fresh worker. An idle worker is
 * closed after a few seconds and never keeps the process alive.
 */
class PdfWorkerHost {
  private worker: Worker | undefined;
  private heapMb = 0;
  private nextId = 1;
  private tail: Promise<unknown> = Promise.resolve();
  private idle: NodeJS.Timeout | undefined;

  parse(bytes: Uint8Array, limits: PdfLimits): Promise<PdfWorkerOutput> {
    const job = this.tail.then(() => this.run(bytes, limits));
    this.tail = job.catch(() => undefined);
    return job;
  }

  private spawn(limits: PdfLimits): Worker {
    if (this.worker && this.heapMb === limits.maxHeapMb) return this.worker;
    void this.worker?.terminate();
    const worker = new Worker(new URL("./pdf-worker.js", import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: limits.maxHeapMb }, stdout: true, stderr: true });
    worker.unref();
    worker.on("error", () => undefined); // each job listens for itself
    this.worker = worker;
    this.heapMb = limits.maxHeapMb;
    return worker;
  }

  private discard(worker: Worker): void {
    if (this.worker === worker) this.worker = undefined;
    void worker.terminate();
  }

  private run(bytes: Uint8Array, limits: PdfLimits): Promise<PdfWorkerOutput> {
    clearTimeout(this.idle);
    const worker = this.spawn(limits);
    const id = this.nextId++;
    return new Promise<PdfWorkerOutput>((resolve) => {
      const finish = (result: PdfWorkerOutput, broken: boolean) => {
        clearTimeout(timer);
        worker.off("message", onMessage);
        worker.off("error", onError);
        worker.off("exit", onExit);
        if (broken) this.discard(worker);
        else {
          this.idle = setTimeout(() => this.discard(worker), 5000);
          this.idle.unref();
        }
        resolve(result);
      };
      const onMessage = (m: PdfWorkerOutput & { id: number }) => {
        if (m.id === id) finish(m, false);
      };
      const onError = (err: Error) => finish({ ok: false, reason: "invalid", message: err.message }, true);
      const onExit = (code: number) => finish({ ok: false, reason: "invalid", message: `The PDF parser stopped (exit code ${code}).` }, true);
      const timer = setTimeout(() => finish({ ok: false, reason: "invalid", message: `Parsing the PDF took longer than ${limits.timeoutMs} ms.` }, true), limits.timeoutMs);
      worker.on("message", onMessage);
      worker.on("error", onError);
      worker.on("exit", onExit);
      const input: PdfWorkerInput & { id: number } = { id, bytes: Uint8Array.from(bytes), maxPages: limits.maxPages };
      worker.postMessage(input);
    });
  }
}

const host = new PdfWorkerHost();

export async function extractPdf(bytes: Uint8Array, maxChars: number, limits: PdfLimits): Promise<ExtractedDocument> {
  const result = await host.parse(bytes, limits);
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
