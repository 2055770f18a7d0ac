/**
 * Word (.docx) extraction: reads word/document.xml from the ZIP (bounded inflation, see zip.ts)
 * and turns paragraphs into text, with headings from paragraph styles ("heading 1".."heading 9"
 * by style name or id, or an outline level) and table rows as "cell | cell" lines. The "Title"
 * style gives the document's title. Deleted revisions and field codes are skipped.
 */
import type { ExtractedDocument } from "../types.js";
import { decodeEntities } from "./html.js";
import { SectionBuilder } from "./sections.js";
import { ZipError, ZipReader, type ZipLimits } from "./zip.js";

type StyleKind = { heading: number } | "title";

// Attributes as [^<>]*: a stray "<" ends the attempt, so matching stays linear on malformed XML.
const TAG = /<(\/?)(?:[A-Za-z][\w.-]*:)?([A-Za-z][\w.-]*)([^<>]*?)(\/?)>/g;

function attr(attrs: string, name: string): string | undefined {
  const m = new RegExp(`(?:^|\\s)(?:[\\w.-]+:)?${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`).exec(attrs);
  return m ? decodeEntities(m[1] ?? m[2] ?? "") : undefined;
}

function headingFromName(name: string): StyleKind | undefined {
  if (/^title$/i.test(name.trim())) return "title";
  const m = /^heading\s*([1-9])$/i.exec(name.trim());
  return m ? { heading: Number(m[1]) } : undefined;
}

/** Style id → heading level or title, from word/styles.xml. */
function readStyles(xml: string): Map<string, StyleKind> {
  const styles = new Map<string, StyleKind>();
  let at = xml.indexOf("<w:style ");
  while (at >= 0) {
    const end = xml.indexOf("</w:style>", at);
    if (end < 0) break;
    const open = xml.indexOf(">", at);
    const head = xml.slice(at, open);
    const body = xml.slice(open + 1, end);
    const id = attr(head, "styleId");
    const name = /<w:name\s[^<>]*w:val="([^"]*)"/.exec(body)?.[1];
    const outline = /<w:outlineLvl\s[^<>]*w:val="(\d)"/.exec(body)?.[1];
    const kind = (name ? headingFromName(name) : undefined) ?? (outline !== undefined && Number(outline) < 9 ? { heading: Number(outline) + 1 } : undefined);
    if (id && kind) styles.set(id, kind);
    at = xml.indexOf("<w:style ", end);
  }
  return styles;
}

interface Paragraph {
  text: string;
  style?: string;
  outline?: number;
}

export function extractDocx(bytes: Uint8Array, maxChars: number, limits: ZipLimits): ExtractedDocument {
  const zip = new ZipReader(bytes, limits);
  const documentXml = zip.read("word/document.xml");
  if (!documentXml) throw new ZipError("The archive has no word/document.xml: not a Word document.");
  const decoder = new TextDecoder("utf-8");
  const stylesXml = zip.read("word/styles.xml");
  const styles = stylesXml ? readStyles(decoder.decode(stylesXml)) : new Map<string, StyleKind>();
  const coreXml = zip.read("docProps/core.xml");
  const coreTitle = coreXml ? /<dc:title>([^<]*)<\/dc:title>/.exec(decoder.decode(coreXml))?.[1] : undefined;

  const out = new SectionBuilder(maxChars);
  const xml = decoder.decode(documentXml);
  const paragraphs: Paragraph[] = [];
  let inText = false;
  let rowCells: string[] | undefined;
  let cell: string[] = [];
  let tableDepth = 0;
  let last = 0;

  const emit = (p: Paragraph) => {
    const text = p.text.trim();
    if (!text) return;
    if (tableDepth > 0 && rowCells) {
      cell.push(text.replace(/\s+/g, " "));
      return;
    }
    const kind = (p.style !== undefined ? styles.get(p.style) ?? headingFromName(p.style.replace(/^heading(\d)$/i, "heading $1")) : undefined)
      ?? (p.outline !== undefined && p.outline < 9 ? { heading: p.outline + 1 } : undefined);
    if (kind === "title") {
      out.title ??= text;
      out.paragraph(text);
    } else if (kind) out.heading(kind.heading, text);
    else out.paragraph(text);
  };

  TAG.lastIndex = 0;
  for (let m = TAG.exec(xml); m; m = TAG.exec(xml)) {
    const current = paragraphs[paragraphs.length - 1];
    if (inText && current && m.index > last) current.text += decodeEntities(xml.slice(last, m.index));
    last = TAG.lastIndex;
    const [, closing, name, attrs, selfClosing] = m as unknown as [string, string, string, string, string];
    if (closing) {
      if (name === "t") inText = false;
      else if (name === "p") {
        const p = paragraphs.pop();
        if (p) emit(p);
      } else if (name === "tc" && rowCells) {
        rowCells.push(cell.join(" "));
        cell = [];
      } else if (name === "tr" && rowCells) {
        const row = rowCells.filter(Boolean).join(" | ");
        rowCells = undefined;
        if (row) out.paragraph(row);
      } else if (name === "tbl") tableDepth = Math.max(0, tableDepth - 1);
      continue;
    }
    switch (name) {
      case "p":
        if (!selfClosing) paragraphs.push({ text: "" });
        break;
      case "t":
        inText = !selfClosing;
        break;
      case "tab":
        if (current && paragraphs.length) current.text += " ";
        break;
      case "br":
      case "cr":
        if (current) current.text += "\n";
        break;
      case "pStyle":
        if (current) current.style = attr(attrs, "val");
        break;
      case "outlineLvl":
        if (current) current.outline = Number(attr(attrs, "val"));
        break;
      case "tbl":
        if (!selfClosing) tableDepth++;
        break;
      case "tr":
        if (!selfClosing && tableDepth === 1) {
          rowCells = [];
          cell = [];
        }
        break;
    }
  }
  const title = coreTitle ? decodeEntities(coreTitle).trim() : undefined;
  return out.build(title ? { title } : {});
}
