/**
 * Writers for the binary test documents of the RAG tests and the eval set (bench/make-rag-eval.ts):
 * a minimal PDF (text pages, optional /Encrypt), a ZIP (stored or deflated entries) and a docx
 * built on it. Small and dependency-free, so fixtures are reproducible from source.
 */
import { crc32, deflateRawSync } from "node:zlib";

export interface PdfLine {
  text: string;
  /** Font size (default 12); larger lines read as headings to a human. */
  size?: number;
  /** Blank space before the line, in lines (a paragraph gap). */
  gapBefore?: number;
}

function pdfString(text: string): string {
  // WinAnsi covers Latin-1; escape the string delimiters.
  return `(${text.replace(/[\\()]/g, (c) => `\\${c}`)})`;
}

/** A PDF with one page per entry of `pages`, Helvetica text top-down; `encrypt` adds a password-protected /Encrypt. */
export function makePdf(pages: PdfLine[][], options: { title?: string; encrypt?: boolean } = {}): Buffer {
  const objects: string[] = [];
  const add = (body: string) => objects.push(body) ;
  add("<< /Type /Catalog /Pages 2 0 R >>"); // 1
  add(""); // 2 pages, filled below
  add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"); // 3
  const kids: number[] = [];
  for (const lines of pages) {
    let y = 740;
    const ops = ["BT"];
    for (const line of lines) {
      const size = line.size ?? 12;
      y -= (line.gapBefore ?? 0) * 14 + size + 4;
      ops.push(`/F1 ${size} Tf 1 0 0 1 72 ${y} Tm ${pdfString(line.text)} Tj`);
    }
    ops.push("ET");
    const stream = ops.join("\n");
    add(`<< /Length ${Buffer.byteLength(stream, "latin1")} >>\nstream\n${stream}\nendstream`);
    const contents = objects.length;
    add(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents ${contents} 0 R >>`);
    kids.push(objects.length);
  }
  objects[1] = `<< /Type /Pages /Kids [${kids.map((k) => `${k} 0 R`).join(" ")}] /Count ${kids.length} >>`;
  add(`<< /Title ${pdfString(options.title ?? "Test document")} /Producer (nimble tests) >>`);
  const info = objects.length;
  let encrypt = "";
  if (options.encrypt) {
    const hex = (seed: number) => Array.from({ length: 32 }, (_, i) => ((i * 37 + seed) & 0xff).toString(16).padStart(2, "0")).join("");
    add(`<< /Filter /Standard /V 1 /R 2 /O <${hex(11)}> /U <${hex(97)}> /P -44 >>`);
    encrypt = ` /Encrypt ${objects.length} 0 R /ID [<${hex(5).slice(0, 32)}> <${hex(5).slice(0, 32)}>]`;
  }
  let pdf = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n";
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(pdf, "latin1"));
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(pdf, "latin1");
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("")}`;
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R /Info ${info} 0 R${encrypt} >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(pdf, "latin1");
}

export interface ZipInput {
  name: string;
  data: Buffer | string;
  /** Store without compression (default: deflate). */
  store?: boolean;
}

/** A ZIP archive (no ZIP64). */
export function makeZip(entries: ZipInput[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const data = typeof entry.data === "string" ? Buffer.from(entry.data, "utf8") : entry.data;
    const body = entry.store ? data : deflateRawSync(data, { level: 9 });
    const name = Buffer.from(entry.name, "utf8");
    const crc = crc32(data);
    // The local header and the central directory entry share one field layout, 4 bytes apart.
    const header = (size: number, signature: number, shift: number) => {
      const b = Buffer.alloc(size);
      b.writeUInt32LE(signature, 0);
      b.writeUInt16LE(20, 4 + shift);
      b.writeUInt16LE(entry.store ? 0 : 8, 8 + shift);
      b.writeUInt32LE(crc, 14 + shift);
      b.writeUInt32LE(body.length, 18 + shift);
      b.writeUInt32LE(data.length, 22 + shift);
      b.writeUInt16LE(name.length, 26 + shift);
      return b;
    };
    const local = header(30, 0x04034b50, 0);
    const central = header(46, 0x02014b50, 2);
    central.writeUInt16LE(20, 4); // version made by
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const dir = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(dir.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, dir, end]);
}

const xmlEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export type DocxBlock = { style?: string; text: string } | { table: string[][] };

const W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"';

export function docxDocumentXml(blocks: DocxBlock[]): string {
  const paragraph = (text: string, style?: string) =>
    `<w:p>${style ? `<w:pPr><w:pStyle w:val="${style}"/></w:pPr>` : ""}<w:r><w:t xml:space="preserve">${xmlEscape(text)}</w:t></w:r></w:p>`;
  const body = blocks.map((b) => ("table" in b
    ? `<w:tbl>${b.table.map((row) => `<w:tr>${row.map((c) => `<w:tc>${paragraph(c)}</w:tc>`).join("")}</w:tr>`).join("")}</w:tbl>`
    : paragraph(b.text, b.style))).join("");
  return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document ${W}><w:body>${body}<w:sectPr/></w:body></w:document>`;
}

/** A Word document; styles "Title" and "Heading1".."Heading3" are defined (ids as Word writes them). */
export function makeDocx(blocks: DocxBlock[], options: { title?: string; documentXml?: Buffer | string } = {}): Buffer {
  const style = (id: string, name: string) => `<w:style w:type="paragraph" w:styleId="${id}"><w:name w:val="${name}"/></w:style>`;
  const styles = `<?xml version="1.0" encoding="UTF-8"?><w:styles ${W}>${style("Normal", "Normal")}${style("Title", "Title")}${[1, 2, 3].map((n) => style(`Heading${n}`, `heading ${n}`)).join("")}</w:styles>`;
  return makeZip([
    { name: "[Content_Types].xml", data: '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>' },
    { name: "_rels/.rels", data: '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>' },
    { name: "word/document.xml", data: options.documentXml ?? docxDocumentXml(blocks) },
    { name: "word/styles.xml", data: styles },
    ...(options.title ? [{ name: "docProps/core.xml", data: `<?xml version="1.0"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>${xmlEscape(options.title)}</dc:title></cp:coreProperties>` }] : []),
  ]);
}
