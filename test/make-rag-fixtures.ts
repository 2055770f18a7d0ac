/**
 * Regenerates the committed binary fixtures under test/fixtures/rag/ (run after a build:
 * `node dist/test/make-rag-fixtures.js`). The tests read the committed files, so they also catch
 * a change in these writers.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeDocx, makePdf, makeZip } from "./rag-fixtures.js";

const dir = join(fileURLToPath(new URL(".", import.meta.url)), "../../test/fixtures/rag");
mkdirSync(dir, { recursive: true });

const twoPages = makePdf([
  [
    { text: "Quarterly Report", size: 18 },
    { text: "The aurora borealis observatory recorded a docu-", gapBefore: 1 },
    { text: "mented rise in visitors during the winter season." },
    { text: "Second paragraph about the heliograph archive.", gapBefore: 1 },
  ],
  [
    { text: "Appendix", size: 18 },
    { text: "The zeppelin hangar inventory lists forty spare gas cells.", gapBefore: 1 },
  ],
], { title: "Quarterly Report" });
writeFileSync(join(dir, "two-pages.pdf"), twoPages);
writeFileSync(join(dir, "encrypted.pdf"), makePdf([[{ text: "Secret content behind a password." }]], { encrypt: true }));
// A real PDF cut in half: header intact, objects and cross-reference table gone.
writeFileSync(join(dir, "corrupt.pdf"), Buffer.concat([twoPages.subarray(0, 60), Buffer.from("\u0000garbage\u0000 1 0 obj << /Type /Catalog /Pages 99 0 R", "latin1")]));
writeFileSync(join(dir, "sample.docx"), makeDocx([
  { style: "Title", text: "Employee Handbook" },
  { text: "Welcome to the company." },
  { style: "Heading1", text: "Leave" },
  { text: "Parental leave lasts sixteen weeks." },
  { style: "Heading2", text: "Sabbatical" },
  { text: "A sabbatical of the quokka programme is granted after five years." },
  { style: "Heading1", text: "Equipment" },
  { table: [["Item", "Owner"], ["Laptop", "IT desk"]] },
], { title: "Employee Handbook" }));
// 100 MiB of zeros deflate to about 100 KiB: over the 64 MiB default inflation limit.
writeFileSync(join(dir, "bomb.docx"), makeZip([
  { name: "[Content_Types].xml", data: "<Types/>" },
  { name: "word/document.xml", data: Buffer.alloc(100 * 1024 * 1024) },
]));
console.log(`fixtures written to ${dir}`);
