/**
 * The web playground on a real Nimble (generated tiny model) in Debian's Chromium: how it is served
 * (compression, caching, CSP, size), streamed chat with the stop button, conversations kept across
 * reloads, the models tab pulling a GGUF from a local HTTP server with its progress bar reaching
 * 100%, live metrics, the documents and guardrails tabs saying "not enabled" when their endpoints
 * answer 404, --no-ui, and axe-core on every tab (no serious or critical violation).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { loadPlayground, PLAYGROUND_CSP, PLAYGROUND_DIR, pickEncoding } from "../src/api/playground.js";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { startTinyServer, tempDir } from "./helpers.js";
import { assertNoProblems, axeViolations, launchChromium, openPage, openTab, type WatchedPage } from "./playground-browser.js";
import type { NimbleServer } from "../src/nimble.js";
import { Command } from "commander";
import { addConfigOptions } from "../src/cli/options.js";
import { resolveConfig } from "../src/config.js";

let server: NimbleServer;
let browser: Browser;
let ui: WatchedPage;
let gguf: Server;
let ggufUrl: string;

before(async () => {
  // A GGUF served over plain HTTP for the pull test (no network: a local server stands in for the Hub).
  const dir = tempDir();
  await generateModel(join(dir, "pulled.gguf"), { shape: PRESETS.tiny, seed: 9 });
  const body = readFileSync(join(dir, "pulled.gguf"));
  gguf = createServer((req, res) => {
    if (req.url !== "/models/pulled.gguf") return void res.writeHead(404).end();
    res.writeHead(200, { "content-length": body.length, "content-type": "application/octet-stream" });
    // In pieces, so the page sees the bar move before it completes.
    let at = 0;
    const step = Math.ceil(body.length / 8);
    const next = () => {
      if (at >= body.length) return void res.end();
      res.write(body.subarray(at, at + step));
      at += step;
      setTimeout(next, 40);
    };
    next();
  });
  await new Promise<void>((r) => gguf.listen(0, "127.0.0.1", r));
  ggufUrl = `http://127.0.0.1:${(gguf.address() as AddressInfo).port}/models/pulled.gguf`;
  // The bench preset (~100 tokens/s here) rather than tiny: a long answer is still streaming when
  // the stop button is clicked, however busy the machine.
  const model = join(tempDir(), "bench.gguf");
  await generateModel(model, { shape: PRESETS.bench, seed: 7 });
  [server, browser] = await Promise.all([startTinyServer({ threads: 1, ui: true, model }), launchChromium()]);
  ui = await openPage(browser, `${server.url}/`);
});

after(async () => {
  await browser?.close();
  await server?.close();
  gguf?.close();
});

describe("serving the playground", () => {
  it("serves index.html no-cache with a strict CSP, and hashed assets immutable, compressed", async () => {
    const index = await fetch(`${server.url}/`, { headers: { "accept-encoding": "br" } });
    assert.equal(index.status, 200);
    assert.equal(index.headers.get("cache-control"), "no-cache");
    assert.equal(index.headers.get("content-security-policy"), PLAYGROUND_CSP);
    assert.doesNotMatch(PLAYGROUND_CSP, /unsafe-inline|unsafe-eval|\*/);
    assert.equal(index.headers.get("x-frame-options"), "DENY");
    const html = await index.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "no inline script");
    assert.doesNotMatch(html, /https?:\/\//, "no CDN");
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const js = await fetch(`${server.url}${asset}`, { headers: { "accept-encoding": "gzip" } });
    assert.equal(js.status, 200);
    assert.equal(js.headers.get("content-encoding"), "gzip");
    assert.equal(js.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.match(js.headers.get("content-type")!, /^text\/javascript/);
    const again = await fetch(`${server.url}${asset}`, { headers: { "if-none-match": js.headers.get("etag")! } });
    assert.equal(again.status, 304);
    assert.equal((await fetch(`${server.url}/assets/nope.js`)).status, 404);
  });

  it("weighs under 500 KB gzipped in all", () => {
    const files = loadPlayground(PLAYGROUND_DIR)!;
    const total = [...files.values()].reduce((sum, f) => sum + gzipSync(f.body, { level: 9 }).length, 0);
    assert.ok(total < 500 * 1024, `${total} bytes gzipped`);
  });

  it("picks brotli or gzip from Accept-Encoding", () => {
    assert.equal(pickEncoding("gzip, deflate, br"), "br");
    assert.equal(pickEncoding("gzip"), "gzip");
    assert.equal(pickEncoding("br;q=0, gzip"), "gzip");
    assert.equal(pickEncoding("identity"), undefined);
    assert.equal(pickEncoding(undefined), undefined);
  });

  it("--no-ui and NIMBLE_UI=0 turn it off; without either it is on", async () => {
    const parse = async (args: string[]) => {
      let flags: Record<string, unknown> = {};
      const cmd = addConfigOptions(new Command("serve").exitOverride(), ["ui", "port"]).action((f: Record<string, unknown>) => void (flags = f));
      await cmd.parseAsync(args, { from: "user" });
      return flags;
    };
    assert.equal(resolveConfig(await parse(["--no-ui"]), {}).ui, false);
    assert.equal(resolveConfig(await parse([]), { NIMBLE_UI: "0" }).ui, false, "the environment counts when the flag is not given");
    assert.equal(resolveConfig(await parse([]), {}).ui, true);
  });

  it("is off with ui: false (--no-ui): / answers 404", async () => {
    const off = await startTinyServer({ threads: 1, ui: false });
    try {
      assert.equal((await fetch(`${off.url}/`)).status, 404);
    } finally {
      await off.close();
    }
  });
});

describe("in the browser", () => {
  it("streams a chat answer, and the stop button stops it", async () => {
    const { page } = ui;
    await openTab(page, "Chat");
    await page.getByLabel("Max tokens", { exact: true }).fill("3000");
    const answer = page.getByTestId("message-assistant").last();
    const stop = page.getByRole("button", { name: "Stop" });
    // A random-weight model may end its answer before the click lands: then the answer is regenerated (at most 3 tries).
    let stats = "";
    for (let attempt = 0; attempt < 3 && !/stopped/.test(stats); attempt++) {
      await page.getByLabel("Seed", { exact: true }).fill(String(7 + attempt));
      if (attempt === 0) {
        await page.getByLabel("Message", { exact: true }).fill("Tell me a long story");
        await page.getByRole("button", { name: "Send" }).click();
      } else {
        await page.getByRole("button", { name: "Regenerate" }).click();
      }
      // Text appears while the answer is still streaming (the stop button is still there).
      await answer.locator(".markdown").filter({ hasText: /\S/ }).waitFor({ timeout: 60_000 });
      if (!(await stop.isVisible())) continue;
      await stop.click({ timeout: 2000 }).catch(() => {});
      await page.getByRole("button", { name: "Send" }).waitFor({ timeout: 60_000 });
      stats = await answer.getByTestId("stats").innerText();
    }
    assert.match(stats, /stopped/);
    assert.match(stats, /TTFT \d+ ms/);
    // The conversation is kept in the browser: it is there after a reload.
    await page.reload();
    await page.getByTestId("message-user").filter({ hasText: "Tell me a long story" }).waitFor();
    assertNoProblems(ui);
  });

  it("regenerates and edits", async () => {
    const { page } = ui;
    await page.getByLabel("Max tokens", { exact: true }).fill("8");
    await page.getByRole("button", { name: "Regenerate" }).click();
    await page.getByTestId("message-assistant").last().getByTestId("stats").filter({ hasText: /length|stop/ }).waitFor({ timeout: 60_000 });
    await page.getByRole("button", { name: "Edit" }).click();
    await page.getByLabel("Edit message", { exact: true }).fill("A shorter one");
    await page.getByRole("button", { name: "Save and send" }).click();
    await page.getByTestId("message-user").filter({ hasText: "A shorter one" }).waitFor();
    await page.getByTestId("message-assistant").last().getByTestId("stats").filter({ hasText: /length|stop/ }).waitFor({ timeout: 60_000 });
    assert.equal(await page.getByTestId("message-user").count(), 1);
  });

  it("lists the server's models in the picker", async () => {
    const options = await ui.page.getByLabel("Model", { exact: true }).locator("option").allInnerTexts();
    assert.ok(options.some((o) => /^tiny \(loaded\)$/.test(o)), options.join(" | "));
  });

  it("says \"not enabled on this server\" in the documents and guardrails tabs exactly when their endpoints answer 404", async () => {
    for (const [tab, endpoint] of [["Documents", "/v1/vector_stores"], ["Guardrails", "/v1/guardrail/configs"]] as const) {
      const status = (await fetch(`${server.url}${endpoint}`)).status;
      await openTab(ui.page, tab);
      const notice = ui.page.getByRole("tabpanel", { name: tab }).getByTestId("not-enabled");
      if (status === 404) await notice.waitFor();
      else assert.equal(await notice.count(), 0, `${tab}: ${endpoint} answers ${status}`);
    }
  });

  it("pulls a model from a local HTTP server, the progress bar reaching 100%", async () => {
    const { page } = ui;
    await openTab(page, "Models");
    await page.getByTestId("models-table").getByText("loaded", { exact: true }).first().waitFor();
    await page.getByLabel("Model reference", { exact: true }).fill(ggufUrl);
    await page.getByRole("button", { name: "Pull" }).click();
    const bar = page.getByRole("progressbar", { name: "Pull progress" });
    await page.getByTestId("pull-status").getByText(/success/).waitFor({ timeout: 60_000 });
    assert.equal(await bar.getAttribute("aria-valuenow"), "100");
  });

  it("draws live metrics per model", async () => {
    await openTab(ui.page, "Metrics");
    const section = ui.page.getByTestId("model-metrics").filter({ hasText: "tiny" });
    await section.waitFor();
    assert.equal(await section.locator("svg").count(), 5);
  });

  it("has no serious or critical accessibility violation on any tab", async () => {
    const found: string[] = [];
    for (const tab of ["Chat", "Documents", "Guardrails", "Models", "Metrics", "Access"]) {
      await openTab(ui.page, tab);
      for (const v of await axeViolations(ui.page)) found.push(`${tab}: ${v}`);
    }
    assert.deepEqual(found, []);
    assertNoProblems(ui);
  });

  it("moves between tabs with the arrow keys", async () => {
    const { page } = ui;
    await openTab(page, "Chat");
    await page.getByRole("tab", { name: "Chat" }).focus();
    await page.keyboard.press("ArrowRight");
    assert.equal(await page.getByRole("tab", { name: "Documents" }).getAttribute("aria-selected"), "true");
    await page.keyboard.press("End");
    assert.equal(await page.getByRole("tab", { name: "Access" }).getAttribute("aria-selected"), "true");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "tab-access");
  });
});
