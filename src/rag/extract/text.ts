/**
 * Plain text and Markdown extraction. Markdown ATX (`# Title`) and setext (`Title\n===`) headings
 * become heading paths (not inside fenced code blocks or YAML front matter); the heading line's
 * text, without its `#` marks, opens its section. Plain text is paragraphs only.
 */
import type { ExtractedDocument } from "../types.js";
import { SectionBuilder } from "./sections.js";

const ATX = /^ {0,3}(#{1,6})(?:[ \t](.*))?$/;

/** An ATX heading's text without its optional closing "#"s (no regex: linear on long lines). */
function atxText(raw: string): string {
  let text = raw.trimEnd();
  let end = text.length;
  while (end > 0 && text[end - 1] === "#") end--;
  if (end === 0 || text[end - 1] === " " || text[end - 1] === "\t") text = text.slice(0, end);
  return text.trim();
}
const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

export function extractPlainText(text: string, maxChars: number): ExtractedDocument {
  const out = new SectionBuilder(maxChars);
  for (const paragraph of text.split(/\r?\n[ \t]*(?:\r?\n[ \t]*)+/)) out.paragraph(paragraph);
  return out.build();
}

export function extractMarkdown(text: string, maxChars: number): ExtractedDocument {
  const out = new SectionBuilder(maxChars);
  const lines = text.split(/\r\n?|\n/);
  let paragraph: string[] = [];
  const flush = () => {
    if (paragraph.length) out.paragraph(paragraph.join("\n"));
    paragraph = [];
  };
  const heading = (level: number, heading: string) => {
    flush();
    if (level === 1 && out.title === undefined && heading.trim()) out.title = heading.trim();
    out.heading(level, heading);
  };
  let fence: string | undefined;
  let i = 0;
  if (lines[0]?.trim() === "---") {
    const end = lines.findIndex((l, j) => j > 0 && j < 200 && (l.trim() === "---" || l.trim() === "..."));
    if (end > 0) {
      out.paragraph(lines.slice(0, end + 1).join("\n"));
      i = end + 1;
    }
  }
  for (; i < lines.length; i++) {
    const line = lines[i]!;
    if (fence !== undefined) {
      paragraph.push(line);
      if (line.trim().startsWith(fence)) fence = undefined;
      continue;
    }
    const f = FENCE.exec(line);
    if (f) {
      fence = f[1]!.slice(0, 3);
      paragraph.push(line);
      continue;
    }
    if (!line.trim()) {
      flush();
      continue;
    }
    const atx = ATX.exec(line);
    if (atx) {
      heading(atx[1]!.length, atxText(atx[2] ?? ""));
      continue;
    }
    const setext = SETEXT.exec(line);
    if (setext && paragraph.length > 0) {
      const title = paragraph.pop()!;
      heading(setext[1]!.startsWith("=") ? 1 : 2, title);
      continue;
    }
    paragraph.push(line);
  }
  flush();
  return out.build();
}
