/**
 * Document extraction: file bytes to text sections, page and heading aware. Detects the format by
 * extension, then MIME type, and checks it against the content's magic bytes (a ".pdf" that is
 * not a PDF, or a ".docx" that is not a ZIP, is invalid_file; a format we do not read is
 * unsupported_file). All text is normalised (normalize.ts); work and memory are bounded by
 * ExtractLimits on every path.
 */
import { extname } from "node:path";
import { ExtractError, type ExtractedDocument } from "../types.js";
import { extractDocx } from "./docx.js";
import { extractHtml } from "./html.js";
import { extractPdf, isPdf } from "./pdf.js";
import { TooMuchText } from "./sections.js";
import { extractCsv, extractJson } from "./tabular.js";
import { extractMarkdown, extractPlainText } from "./text.js";
import { isZip, ZipError } from "./zip.js";

export type DocumentFormat = "txt" | "md" | "html" | "pdf" | "docx" | "csv" | "tsv" | "json" | "jsonl";

export interface ExtractLimits {
  /** Most characters of extracted text (default 20 million). */
  maxChars: number;
  /** Most bytes a ZIP entry (docx) may inflate to (default 64 MiB). */
  maxInflatedBytes: number;
  /** Most entries in a ZIP (default 10 000). */
  maxZipEntries: number;
  /** Wall-clock limit for one PDF (default 120 s). */
  pdfTimeoutMs: number;
  /** Heap limit of the PDF parsing worker (default 512 MiB). */
  pdfMaxHeapMb: number;
  /** Most pages in a PDF (default 5000). */
  maxPages: number;
}

export const DEFAULT_EXTRACT_LIMITS: ExtractLimits = {
  maxChars: 20_000_000,
  maxInflatedBytes: 64 * 1024 * 1024,
  maxZipEntries: 10_000,
  pdfTimeoutMs: 120_000,
  pdfMaxHeapMb: 512,
  maxPages: 5000,
};

const TEXT_EXTENSIONS = [
  ".txt", ".text", ".log", ".rst", ".adoc", ".tex", ".py", ".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx", ".java", ".c", ".h", ".cc", ".cpp", ".hpp", ".cs",
  ".go", ".rs", ".rb", ".php", ".sh", ".css", ".sql", ".yaml", ".yml", ".toml", ".ini", ".xml", ".swift", ".kt", ".scala", ".r", ".lua", ".pl",
];
const BY_EXTENSION: Record<string, DocumentFormat> = {
  ...Object.fromEntries(TEXT_EXTENSIONS.map((e) => [e, "txt" as const])),
  ".md": "md", ".markdown": "md", ".mdx": "md",
  ".html": "html", ".htm": "html", ".xhtml": "html",
  ".pdf": "pdf",
  ".docx": "docx",
  ".csv": "csv", ".tsv": "tsv",
  ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
};
const BY_MIME: Record<string, DocumentFormat> = {
  "text/plain": "txt", "text/markdown": "md", "text/x-markdown": "md", "text/html": "html", "application/xhtml+xml": "html",
  "application/pdf": "pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
  "text/csv": "csv", "text/tab-separated-values": "tsv", "application/json": "json", "application/x-ndjson": "jsonl", "application/jsonl": "jsonl",
};

/** Binary formats recognised by magic bytes, to say "unsupported" rather than trying to read them as text. */
const BINARY_MAGIC: Array<[string, number[]]> = [
  ["PNG image", [0x89, 0x50, 0x4e, 0x47]], ["JPEG image", [0xff, 0xd8, 0xff]], ["GIF image", [0x47, 0x49, 0x46, 0x38]],
  ["gzip archive", [0x1f, 0x8b]], ["ELF executable", [0x7f, 0x45, 0x4c, 0x46]], ["Windows executable", [0x4d, 0x5a]],
  ["OLE2 (legacy Office) file", [0xd0, 0xcf, 0x11, 0xe0]], ["7-Zip archive", [0x37, 0x7a, 0xbc, 0xaf]], ["RAR archive", [0x52, 0x61, 0x72, 0x21]],
  ["GGUF model", [0x47, 0x47, 0x55, 0x46]], ["WebAssembly module", [0x00, 0x61, 0x73, 0x6d]],
];

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return magic.every((b, i) => bytes[i] === b);
}

/** The format a file will be read as, or an ExtractError saying why it cannot be. */
export function detectFormat(bytes: Uint8Array, filename: string, mimeType?: string): DocumentFormat {
  const ext = extname(filename).toLowerCase();
  const mime = mimeType?.split(";")[0]?.trim().toLowerCase();
  const claimed = BY_EXTENSION[ext] ?? (mime ? BY_MIME[mime] : undefined);
  const pdf = isPdf(bytes);
  const zip = isZip(bytes);
  if (claimed === "pdf") {
    if (!pdf) throw new ExtractError("invalid_file", `${filename} is not a PDF (no %PDF- header).`);
    return "pdf";
  }
  if (claimed === "docx") {
    if (!zip) throw new ExtractError("invalid_file", `${filename} is not a Word document (not a ZIP archive).`);
    return "docx";
  }
  // Content that is plainly a PDF or a ZIP is never read as text, whatever its name says.
  if (pdf && bytes[0] === 0x25) return "pdf";
  if (zip) {
    if (claimed) throw new ExtractError("invalid_file", `${filename} is a ZIP archive, not ${claimed} text.`);
    if (zipHasWordDocument(bytes)) return "docx";
    throw new ExtractError("unsupported_file", `${filename} is a ZIP archive of an unsupported type.`);
  }
  const binary = BINARY_MAGIC.find(([, magic]) => startsWith(bytes, magic));
  if (binary) {
    if (claimed) throw new ExtractError("invalid_file", `${filename} is a ${binary[0]}, not ${claimed} text.`);
    throw new ExtractError("unsupported_file", `Unsupported file type: ${binary[0]}.`);
  }
  if (claimed) return claimed;
  if (ext === "") return "txt"; // extensionless text files (README, LICENSE); decoding checks it is text
  throw new ExtractError("unsupported_file", `Unsupported file type: ${ext}.`);
}

function zipHasWordDocument(bytes: Uint8Array): boolean {
  // The central directory names the entries; a cheap byte search is enough to tell docx apart.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes("word/document.xml");
}

/** Decodes text: UTF-8 (BOM optional), UTF-16 with a BOM, or a declared HTML charset; binary content is invalid_file. */
export function decodeText(bytes: Uint8Array, filename: string, charset?: string): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes);
  const sample = bytes.subarray(0, 8192);
  if (sample.includes(0)) throw new ExtractError("invalid_file", `${filename} is binary, not text.`);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    if (charset) {
      try {
        return new TextDecoder(charset).decode(bytes);
      } catch {
        // Unknown label: fall through.
      }
    }
    throw new ExtractError("invalid_file", `${filename} is not valid UTF-8 text.`);
  }
}

function htmlCharset(bytes: Uint8Array): string | undefined {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 2048)).toString("latin1");
  return /<meta[^<>]*charset\s*=\s*["']?([\w-]+)/i.exec(head)?.[1];
}

/**
 * Extracts a document's text. Sections are in reading order; a section never spans two pages or
 * two heading paths.
 * @throws ExtractError unsupported_file (a format not read) or invalid_file (corrupt, encrypted,
 *   not what its name says, or over a limit).
 */
export async function extractDocument(bytes: Uint8Array, filename: string, mimeType?: string, limits: Partial<ExtractLimits> = {}): Promise<ExtractedDocument> {
  const l = { ...DEFAULT_EXTRACT_LIMITS, ...limits };
  const format = detectFormat(bytes, filename, mimeType);
  try {
    switch (format) {
      case "pdf":
        return await extractPdf(bytes, l.maxChars, { timeoutMs: l.pdfTimeoutMs, maxHeapMb: l.pdfMaxHeapMb, maxPages: l.maxPages });
      case "docx":
        return extractDocx(bytes, l.maxChars, { maxEntryBytes: l.maxInflatedBytes, maxEntries: l.maxZipEntries });
      case "html":
        return extractHtml(decodeText(bytes, filename, htmlCharset(bytes)), l.maxChars);
      case "md":
        return extractMarkdown(decodeText(bytes, filename), l.maxChars);
      case "csv":
      case "tsv":
        return extractCsv(decodeText(bytes, filename), l.maxChars, format === "tsv" ? "\t" : undefined);
      case "json":
      case "jsonl":
        return extractJson(decodeText(bytes, filename), l.maxChars, format === "jsonl");
      default:
        return extractPlainText(decodeText(bytes, filename), l.maxChars);
    }
  } catch (err) {
    if (err instanceof ExtractError) throw err;
    if (err instanceof ZipError) throw new ExtractError("invalid_file", `${filename}: ${err.message}`);
    if (err instanceof TooMuchText) throw new ExtractError("invalid_file", `${filename}: ${err.message}`);
    if (err instanceof SyntaxError) throw new ExtractError("invalid_file", `${filename} is not valid ${format.toUpperCase()}: ${err.message}`);
    if (err instanceof RangeError) throw new ExtractError("invalid_file", `${filename} is too large or too deeply nested to read.`);
    throw new ExtractError("invalid_file", `${filename} could not be read: ${(err as Error).message}`);
  }
}
