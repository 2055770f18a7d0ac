/**
 * Writes the binary documents of the retrieval set (bench/data/rag-eval/corpus: two PDFs, two
 * docx) with the same writers as the tests. Run after a build: `node dist/bench/make-rag-eval.js`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeDocx, makePdf } from "../test/rag-fixtures.js";

const dir = join(fileURLToPath(new URL(".", import.meta.url)), "../../bench/data/rag-eval/corpus");
writeFileSync(join(dir, "board-minutes.pdf"), makePdf([
  [{ text: "Board minutes, annual meeting 2025", size: 16 }, { text: "The board approved the budget and re-elected the chair.", gapBefore: 1 }],
  [{ text: "Warehouse lease", size: 16 }, { text: "The board approved extending the Rotterdam warehouse lease by five years at", gapBefore: 1 }, { text: "a rent of 96,000 euros a year, with an option to add a mezzanine floor." }],
], { title: "Board minutes 2025" }));
writeFileSync(join(dir, "warehouse-safety.pdf"), makePdf([
  [{ text: "Warehouse safety", size: 16 }, { text: "Only staff holding a valid forklift certificate may drive the two electric forklifts", gapBefore: 1 }, { text: "in the Rotterdam warehouse. Certificates are renewed every five years at the" }, { text: "Waalhaven training centre." }],
  [{ text: "High-bay racking", size: 16 }, { text: "Racking inspections happen every quarter; damaged uprights are tagged red.", gapBefore: 1 }],
], { title: "Warehouse safety" }));
writeFileSync(join(dir, "ergonomics.docx"), makeDocx([
  { style: "Title", text: "Ergonomics at the office" },
  { style: "Heading1", text: "Standing desks" },
  { text: "To request a standing desk, file a facilities ticket with the label ERGO; the desks are delivered within two weeks." },
  { style: "Heading1", text: "Monitors" },
  { text: "Each workplace has two 27-inch monitors on gas-spring arms." },
], { title: "Ergonomics" }));
writeFileSync(join(dir, "mentoring.docx"), makeDocx([
  { style: "Title", text: "Mentoring programme" },
  { style: "Heading1", text: "Pairing" },
  { text: "Mentors and mentees are paired across departments, never within the same reporting line, for six months." },
  { table: [["Cohort", "Starts"], ["Spring", "March"], ["Autumn", "September"]] },
], { title: "Mentoring" }));
console.log(`binary documents written to ${dir}`);
