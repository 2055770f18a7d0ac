/**
 * CSV/TSV and JSON extraction. A CSV row becomes one line naming its columns
 * ("name: Ada; role: engineer"), so a chunk of rows still says what each value is. JSON becomes one
 * line per value with its key path ("orders[2].total: 31.5"); each top-level key of an object opens
 * a section headed by that key. Both are linear in the input; deep nesting is walked without recursion.
 */
import type { ExtractedDocument } from "../types.js";
import { SectionBuilder } from "./sections.js";

/** Parses delimited text (RFC 4180 quoting), guessing the delimiter from the first line. */
export function parseDelimited(text: string, delimiter?: string): string[][] {
  const firstLine = text.slice(0, Math.max(0, text.indexOf("\n")) || text.length);
  const d = delimiter ?? ([",", "\t", ";", "|"].map((c) => [c, firstLine.split(c).length] as const).sort((a, b) => b[1] - a[1])[0]![0]);
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else field += c;
      i++;
      continue;
    }
    if (c === '"' && field === "") quoted = true;
    else if (c === d) {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
    i++;
  }
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => r.some((f) => f.trim() !== ""));
}

export function extractCsv(text: string, maxChars: number, delimiter?: string): ExtractedDocument {
  const out = new SectionBuilder(maxChars);
  const [header, ...rows] = parseDelimited(text, delimiter);
  if (!header) return out.build();
  const names = header.map((h, i) => h.trim() || `column ${i + 1}`);
  const lines: string[] = [];
  for (const row of rows) {
    const cells = row.map((v, i) => (v.trim() ? `${names[i] ?? `column ${i + 1}`}: ${v.trim().replace(/\s+/g, " ")}` : "")).filter(Boolean);
    if (cells.length) lines.push(cells.join("; "));
  }
  // Rows go in blocks of lines; one block per 50 rows keeps paragraphs a sensible size for the chunker.
  if (rows.length === 0) out.paragraph(names.join("; "));
  for (let i = 0; i < lines.length; i += 50) out.paragraph(lines.slice(i, i + 50).join("\n"));
  return out.build();
}

/** Most key-path segments written out in full; deeper paths keep their last segments after "…". */
const MAX_PATH_SEGMENTS = 12;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function keySegment(key: string): string {
  return /^[A-Za-z_$][\w$-]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function pathText(segments: string[]): string {
  const shown = segments.length > MAX_PATH_SEGMENTS ? ["…", ...segments.slice(-MAX_PATH_SEGMENTS)] : segments;
  const joined = shown.join("");
  return joined.startsWith(".") ? joined.slice(1) : joined;
}

/** The value lines of one JSON value, walked with an explicit stack (no recursion, any depth). */
function flatten(root: Json, prefix: string[], emit: (line: string) => void): void {
  const stack: Array<{ value: Json; path: string[] }> = [{ value: root, path: prefix }];
  while (stack.length) {
    const { value, path } = stack.pop()!;
    if (value !== null && typeof value === "object") {
      const entries: Array<[string, Json]> = Array.isArray(value) ? value.map((v, i) => [`[${i}]`, v]) : Object.entries(value).map(([k, v]) => [keySegment(k), v]);
      if (entries.length === 0) emit(`${pathText(path) || "(root)"}: ${Array.isArray(value) ? "[]" : "{}"}`);
      // Keep only the last segments of very deep paths, so memory stays linear in the input.
      const base = path.length > MAX_PATH_SEGMENTS * 2 ? ["…", ...path.slice(-MAX_PATH_SEGMENTS)] : path;
      for (let i = entries.length - 1; i >= 0; i--) stack.push({ value: entries[i]![1], path: [...base, entries[i]![0]] });
    } else {
      const shown = typeof value === "string" ? value.replace(/\s+/g, " ") : String(value);
      emit(path.length ? `${pathText(path)}: ${shown}` : shown);
    }
  }
}

function addLines(out: SectionBuilder, value: Json, prefix: string[]): void {
  let lines: string[] = [];
  flatten(value, prefix, (line) => {
    lines.push(line);
    if (lines.length === 50) {
      out.paragraph(lines.join("\n"));
      lines = [];
    }
  });
  if (lines.length) out.paragraph(lines.join("\n"));
}

/** @throws SyntaxError when the text is not JSON (or, for JSON Lines, a line is not). */
export function extractJson(text: string, maxChars: number, lines = false): ExtractedDocument {
  const out = new SectionBuilder(maxChars);
  if (lines) {
    text.split(/\r?\n/).forEach((line, i) => {
      if (line.trim()) addLines(out, JSON.parse(line) as Json, [`[${i}]`]);
    });
    return out.build();
  }
  const root = JSON.parse(text) as Json;
  if (root !== null && typeof root === "object" && !Array.isArray(root)) {
    for (const [key, value] of Object.entries(root)) {
      out.heading(1, key);
      addLines(out, value, [keySegment(key)]);
    }
    return out.build();
  }
  addLines(out, root, []);
  return out.build();
}
