/** Document extraction: every format, type detection, Unicode normalisation, and bad or hostile input (never a crash or a hang). */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { detectFormat, extractDocument, ExtractError } from "../src/rag/extract.js";
import { documentText } from "../src/rag/chunk.js";
import type { ExtractedDocument } from "../src/rag/types.js";
import { makeDocx, makePdf, makeZip } from "./rag-fixtures.js";

const fixtures = join(fileURLToPath(new URL(".", import.meta.url)), "../../test/fixtures/rag");
const fixture = (name: string) => readFileSync(join(fixtures, name));
const utf8 = (s: string) => Buffer.from(s, "utf8");

async function rejectsWith(promise: Promise<unknown>, code: "unsupported_file" | "invalid_file", pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ExtractError, `expected ExtractError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

const paths = (doc: ExtractedDocument) => doc.sections.map((s) => s.headingPath.join(" > "));

describe("plain text and Unicode", () => {
  it("splits paragraphs and normalises whitespace, line endings and Unicode (NFKC, invisible and control characters)", async () => {
    const raw = "ﬁrst  line\r\nＦｕｌｌ\u00a0width\t tab\r\n\r\n\r\n\r\nsecond\u200b para\u202egraph\u0007 with caf\u0065\u0301\n\u0000";
    const doc = await extractDocument(Buffer.from(raw.replace("\u0000", ""), "utf8"), "notes.txt");
    assert.deepEqual(doc.sections, [{ text: "first line\nFull width tab\n\nsecond paragraph with café", headingPath: [] }]);
    assert.equal(documentText(doc), doc.sections[0]!.text);
  });

  it("reads UTF-16 with a BOM and strips a UTF-8 BOM", async () => {
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("hello utf16", "utf16le")]);
    assert.equal((await extractDocument(le, "a.txt")).sections[0]!.text, "hello utf16");
    assert.equal((await extractDocument(utf8("\ufeffbom text"), "a.txt")).sections[0]!.text, "bom text");
  });

  it("rejects invalid UTF-8 and binary content named as text", async () => {
    await rejectsWith(extractDocument(Buffer.from([0x61, 0xff, 0xfe, 0x62]), "bad.txt"), "invalid_file", /UTF-8/);
    await rejectsWith(extractDocument(Buffer.from([0x61, 0x00, 0x62]), "bin.md"), "invalid_file", /binary/);
  });

  it("an empty or blank file has no sections", async () => {
    assert.deepEqual((await extractDocument(utf8(""), "e.txt")).sections, []);
    assert.deepEqual((await extractDocument(utf8(" \n\n \t"), "e.md")).sections, []);
  });
});

describe("markdown", () => {
  it("turns ATX and setext headings into heading paths, not inside code fences or front matter", async () => {
    const md = [
      "---", "title: front", "---",
      "# Guide #", "Intro text.", "",
      "## Install", "Run it.", "```sh", "# not a heading", "```", "",
      "#### Deep", "Deep text.", "",
      "Setext Two", "----------", "Under setext.", "",
      "Top Again", "=========", "Last.",
    ].join("\n");
    const doc = await extractDocument(utf8(md), "guide.md");
    assert.equal(doc.title, "Guide");
    assert.deepEqual(paths(doc), ["", "Guide", "Guide > Install", "Guide > Install > Deep", "Guide > Setext Two", "Top Again"]);
    assert.equal(doc.sections[2]!.text, "Install\n\nRun it.\n```sh\n# not a heading\n```");
    assert.equal(doc.sections[5]!.text, "Top Again\n\nLast.");
    assert.match(doc.sections[0]!.text, /title: front/);
  });
});

describe("html", () => {
  it("keeps the main content as inert text: scripts, styles, nav, footer, forms and hidden elements dropped", async () => {
    const html = fixture("scripts.html");
    const doc = await extractDocument(html, "page.html");
    const text = documentText(doc);
    assert.equal(doc.title, "Aurora & Co");
    for (const banned of ["alert", "evil()", "color:", "Site navigation", "Copyright footer", "Subscribe", "hidden secret", "tracking pixel", "onerror", "<", "Sidebar ad"]) {
      assert.ok(!text.includes(banned), `${banned} leaked into: ${text}`);
    }
    assert.deepEqual(paths(doc), ["Glacier Trains", "Glacier Trains > Timetable", "Glacier Trains > Fares"]);
    assert.match(text, /The glacier express leaves at 08:15 — daily\. 5 > 3 & "quoted"/);
    assert.match(text, /- first stop\n- second stop/);
    assert.match(text, /Adult \| 42 CHF/);
    assert.match(text, /Scenic view/, "image alt text kept");
  });

  it("uses the body when there is no main element, and decodes entities", async () => {
    const doc = await extractDocument(utf8("<html><body><h2>Alpha</h2><p>one &amp; two &#x41;&#66; &nbsp;end</p><nav>menu</nav></body></html>"), "a.htm");
    assert.deepEqual(doc.sections, [{ text: "Alpha\n\none & two AB end", headingPath: ["Alpha"] }]);
  });

  it("reads a declared legacy charset", async () => {
    const bytes = Buffer.concat([utf8('<meta charset="windows-1252"><p>caf'), Buffer.from([0xe9]), utf8("</p>")]);
    assert.equal(documentText(await extractDocument(bytes, "x.html")), "café");
  });
});

describe("pdf", () => {
  it("keeps page numbers, the title and joins words hyphenated at line ends", async () => {
    const doc = await extractDocument(fixture("two-pages.pdf"), "report.pdf");
    assert.equal(doc.pageCount, 2);
    assert.equal(doc.title, "Quarterly Report");
    assert.deepEqual(doc.sections.map((s) => s.page), [1, 2]);
    assert.match(doc.sections[0]!.text, /recorded a documented rise/);
    assert.match(doc.sections[0]!.text, /heliograph archive/);
    assert.doesNotMatch(doc.sections[0]!.text, /zeppelin/);
    assert.match(doc.sections[1]!.text, /zeppelin hangar inventory/);
  });

  it("an encrypted PDF, a corrupt PDF and a .pdf that is not a PDF are invalid_file", async () => {
    await rejectsWith(extractDocument(fixture("encrypted.pdf"), "locked.pdf"), "invalid_file", /encrypted/);
    await rejectsWith(extractDocument(fixture("corrupt.pdf"), "broken.pdf"), "invalid_file");
    await rejectsWith(extractDocument(utf8("just text, honestly"), "fake.pdf"), "invalid_file", /not a PDF/);
    await rejectsWith(extractDocument(Buffer.alloc(0), "empty.pdf"), "invalid_file");
  });

  it("a PDF is recognised by its bytes whatever its name, and a parser deadline ends as invalid_file", async () => {
    const pdf = makePdf([[{ text: "Named wrongly" }]]);
    assert.equal(detectFormat(pdf, "upload.bin"), "pdf");
    assert.match(documentText(await extractDocument(pdf, "upload")), /Named wrongly/);
    // A deadline far below what the parse needs (200 pages: tens of ms at least; one tiny page can beat 1 ms on a warm worker).
    const long = makePdf(Array.from({ length: 200 }, (_, i) => [{ text: `Page ${i} of a long report` }]));
    await rejectsWith(extractDocument(long, "slow.pdf", undefined, { pdfTimeoutMs: 1 }), "invalid_file", /longer than/);
  });
});

describe("docx", () => {
  it("reads headings from paragraph styles, the title, and table rows", async () => {
    const doc = await extractDocument(fixture("sample.docx"), "handbook.docx");
    assert.equal(doc.title, "Employee Handbook");
    assert.deepEqual(paths(doc), ["", "Leave", "Leave > Sabbatical", "Equipment"]);
    assert.equal(doc.sections[2]!.text, "Sabbatical\n\nA sabbatical of the quokka programme is granted after five years.");
    assert.equal(doc.sections[3]!.text, "Equipment\n\nItem | Owner\n\nLaptop | IT desk");
  });

  it("a zip bomb, a docx that is not a zip and a zip without a document are invalid_file", async () => {
    const before = process.memoryUsage().arrayBuffers;
    await rejectsWith(extractDocument(fixture("bomb.docx"), "bomb.docx"), "invalid_file", /inflates to more than/);
    await rejectsWith(extractDocument(fixture("bomb.docx"), "bomb.docx", undefined, { maxInflatedBytes: 1024 * 1024 }), "invalid_file", /1048576/);
    assert.ok(process.memoryUsage().arrayBuffers - before < 200 * 1024 * 1024, "inflation stopped at the limit");
    await rejectsWith(extractDocument(utf8("not a zip at all"), "fake.docx"), "invalid_file", /not a ZIP/i);
    await rejectsWith(extractDocument(makeZip([{ name: "hello.txt", data: "hi" }]), "other.docx"), "invalid_file", /word\/document\.xml/);
    await rejectsWith(extractDocument(makeZip([{ name: "word/document.xml", data: "x" }]).subarray(0, 40), "cut.docx"), "invalid_file");
  });

  it("a docx named otherwise is found by its content; other zips are unsupported", async () => {
    assert.equal(detectFormat(makeDocx([{ text: "x" }]), "upload"), "docx");
    await rejectsWith(extractDocument(makeZip([{ name: "a.txt", data: "a" }]), "archive.zip"), "unsupported_file");
  });
});

describe("csv and json", () => {
  it("writes CSV rows with their header names, quoted fields intact", async () => {
    const csv = 'name,role,notes\nAda,engineer,"likes ""tea"", and\nbiscuits"\nGrace,admiral,\n';
    const doc = await extractDocument(utf8(csv), "people.csv");
    assert.equal(documentText(doc), 'name: Ada; role: engineer; notes: likes "tea", and biscuits\nname: Grace; role: admiral');
    const tsv = await extractDocument(utf8("a\tb\n1\t2\n"), "t.tsv");
    assert.equal(documentText(tsv), "a: 1; b: 2");
  });

  it("flattens JSON to key paths, one section per top-level key", async () => {
    const json = JSON.stringify({ store: { name: "Kiosk", tags: ["a", "b"], "odd key": null }, orders: [{ total: 31.5 }], empty: {} });
    const doc = await extractDocument(utf8(json), "data.json");
    assert.deepEqual(paths(doc), ["store", "orders", "empty"]);
    assert.equal(doc.sections[0]!.text, 'store\n\nstore.name: Kiosk\nstore.tags[0]: a\nstore.tags[1]: b\nstore["odd key"]: null');
    assert.equal(doc.sections[1]!.text, "orders\n\norders[0].total: 31.5");
    const lines = await extractDocument(utf8('{"a":1}\n\n{"b":[true]}\n'), "x.jsonl");
    assert.equal(documentText(lines), "[0].a: 1\n\n[2].b[0]: true", "one paragraph per record");
  });

  it("invalid JSON is invalid_file; deeply nested JSON neither crashes nor hangs", async () => {
    await rejectsWith(extractDocument(utf8("{nope"), "bad.json"), "invalid_file", /JSON/);
    const depth = 100_000;
    const deep = "[".repeat(depth) + "1" + "]".repeat(depth);
    try {
      const doc = await extractDocument(utf8(deep), "deep.json");
      assert.ok(documentText(doc).length < 1000, "deep paths are shortened");
    } catch (err) {
      assert.ok(err instanceof ExtractError && err.code === "invalid_file");
    }
    const wideDeep = JSON.stringify({ a: Array.from({ length: 2000 }, () => JSON.parse("[".repeat(200) + "0" + "]".repeat(200))) });
    const doc = await extractDocument(utf8(wideDeep), "wd.json");
    assert.ok(documentText(doc).length < 2000 * 200, "output stays linear in the input");
  });
});

describe("type detection", () => {
  it("unknown types are unsupported_file; known binaries under a text name are invalid_file", async () => {
    await rejectsWith(extractDocument(utf8("MZ fake exe"), "tool.exe"), "unsupported_file");
    await rejectsWith(extractDocument(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]), "pic.png"), "unsupported_file");
    await rejectsWith(extractDocument(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a]), "pic.txt"), "invalid_file");
    await rejectsWith(extractDocument(utf8("a,b"), "sheet.xlsx"), "unsupported_file");
  });

  it("uses the extension first, then the MIME type; extensionless text is plain text", async () => {
    assert.equal(detectFormat(utf8("# x"), "README"), "txt");
    assert.equal(detectFormat(utf8("# x"), "blob", "text/markdown; charset=utf-8"), "md");
    assert.equal(detectFormat(utf8("<p>x</p>"), "page.HTML", "text/plain"), "html");
    assert.equal(detectFormat(utf8("x"), "code.py"), "txt");
  });
});

describe("hostile input finishes (linear work, bounded memory)", { timeout: 120_000 }, () => {
  const MB = 1024 * 1024;
  it("1 MB pathological HTML", async () => {
    const cases = [
      "<div>".repeat(MB / 5),
      "<a ".repeat(MB / 3),
      "<!--" + "x".repeat(MB),
      '<p title="' + "<".repeat(MB),
      "<script>".repeat(MB / 8),
      "<table><tr>" + "<td>x".repeat(MB / 5),
      "<main>" + "&amp".repeat(MB / 4),
      "<h1>" + "<h2>x".repeat(MB / 5),
    ];
    for (const html of cases) {
      const doc = await extractDocument(utf8(html), "evil.html");
      assert.ok(documentText(doc).length <= html.length * 2);
    }
  });

  it("1 MB pathological markdown and text", async () => {
    const cases = ["#".repeat(MB), "# " + " ".repeat(MB) + "x", "=\n".repeat(MB / 2), "```\n".repeat(MB / 4), ("a".repeat(100) + "\n").repeat(MB / 101), " \n".repeat(MB / 2), "-".repeat(MB) + "\n" + "-".repeat(MB)];
    for (const md of cases) await extractDocument(utf8(md), "evil.md");
    await extractDocument(utf8("\u202e\u0301".repeat(MB / 4)), "evil.txt");
  });

  it("a text over the character limit is invalid_file", async () => {
    await rejectsWith(extractDocument(utf8("word ".repeat(1000)), "big.txt", undefined, { maxChars: 1000 }), "invalid_file", /more than 1000 characters/);
  });
});
