/**
 * The playground's documents tab on a real Nimble (generated tiny chat and embedding models, the
 * embedded vector store) in Debian's Chromium: create a store, upload a two-page PDF with its
 * progress until `completed`, search it (ranked chunks with scores) and open a chunk with its file
 * and page, then ask a question grounded in the store and open its citation, in the documents tab
 * and in a streamed chat.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { generateModel, PRESETS } from "../src/models/generate.js";
import type { NimbleServer } from "../src/nimble.js";
import { startTinyServer, tempDir } from "./helpers.js";
import { assertNoProblems, axeViolations, launchChromium, openPage, type WatchedPage } from "./playground-browser.js";

const PDF = fileURLToPath(new URL("../../test/fixtures/rag/two-pages.pdf", import.meta.url));
let server: NimbleServer;
let browser: Browser;
let ui: WatchedPage;

before(async () => {
  const dir = tempDir();
  const embeddingModel = join(dir, "embed.gguf");
  await generateModel(embeddingModel, { shape: PRESETS.embedding, seed: 42, poolingType: 1, chatTemplate: null });
  [server, browser] = await Promise.all([startTinyServer({ threads: 1, ui: true, home: dir, embeddingModel }), launchChromium()]);
  ui = await openPage(browser, `${server.url}/#documents`);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

describe("documents on a real server", () => {
  it("creates a store and uploads a PDF, showing its progress until completed", async () => {
    const { page } = ui;
    await page.getByLabel("New store name", { exact: true }).fill("reports");
    await page.getByRole("button", { name: "Create store" }).click();
    await page.getByRole("button", { name: /^reports/ }).waitFor();
    await page.getByLabel("Upload files (or drop them here)").setInputFiles(PDF);
    const upload = page.getByTestId("upload").filter({ hasText: "two-pages.pdf" });
    await upload.and(page.locator('[data-status="completed"]')).waitFor({ timeout: 60_000 });
    assert.equal(await upload.getByRole("progressbar").getAttribute("aria-valuenow"), "100");
    await page.getByRole("cell", { name: "two-pages.pdf" }).waitFor();
  });

  it("searches it: ranked chunks with scores; the best opens with its file and page", async () => {
    const { page } = ui;
    await page.getByLabel("Search query", { exact: true }).fill("zeppelin hangar inventory");
    await page.getByRole("button", { name: "Search" }).click();
    const hits = page.getByTestId("search-hit");
    await hits.first().waitFor({ timeout: 30_000 });
    const scores = (await hits.locator(".score").allInnerTexts()).map(Number);
    assert.deepEqual(scores, [...scores].sort((a, b) => b - a));
    await hits.first().click();
    const dialog = page.getByRole("tabpanel", { name: "Documents" }).getByTestId("chunk-dialog");
    await dialog.getByText(/zeppelin hangar/).waitFor();
    assert.equal(await dialog.getByRole("heading").innerText(), "two-pages.pdf");
    assert.match(await dialog.getByTestId("chunk-page").innerText(), /^Page 2\b/);
    assert.deepEqual(await axeViolations(page), []);
    await dialog.getByRole("button", { name: "Close" }).click();
    await dialog.waitFor({ state: "hidden" });
  });

  it("answers a question grounded in the store; its citation opens the chunk", async () => {
    const { page } = ui;
    await page.getByLabel("Question", { exact: true }).fill("What does the zeppelin hangar inventory list?");
    await page.getByRole("button", { name: "Ask" }).click();
    const citation = page.getByTestId("grounded-answer").getByTestId("citation").filter({ hasText: "page 2" }).first();
    await citation.waitFor({ timeout: 60_000 });
    assert.match(await citation.innerText(), /^\[\d+\] two-pages\.pdf, page 2$/);
    await citation.click();
    const dialog = page.getByRole("tabpanel", { name: "Documents" }).getByTestId("chunk-dialog");
    await dialog.getByText(/zeppelin hangar/).waitFor();
    await dialog.getByRole("button", { name: "Close" }).click();
  });

  it("grounds a streamed chat in a store chosen in the chat tab", async () => {
    const { page } = ui;
    await page.getByRole("tab", { name: "Chat" }).click();
    await page.getByLabel("reports", { exact: true }).check();
    await page.getByLabel("Max tokens", { exact: true }).fill("16");
    await page.getByLabel("Message", { exact: true }).fill("zeppelin hangar inventory");
    await page.getByRole("button", { name: "Send" }).click();
    const citation = page.getByTestId("message-assistant").last().getByTestId("citation").filter({ hasText: "two-pages.pdf" }).first();
    await citation.waitFor({ timeout: 60_000 });
    await citation.click();
    await page.getByRole("tabpanel", { name: "Chat" }).getByTestId("chunk-dialog").getByText(/two-pages\.pdf/).waitFor();
    assertNoProblems(ui);
  });
});
