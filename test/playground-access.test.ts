/**
 * The playground with API keys on (real Nimble, Debian's Chromium): the page itself is public and
 * asks for a key; a wrong key gets a clear message; an inference-scope key does not see the admin
 * tabs (models, metrics), an admin key does; the key is kept in sessionStorage across reloads.
 * And GET /v1/whoami, which tells the page the key's scope.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { KeyStore } from "../src/keys/store.js";
import type { NimbleServer } from "../src/nimble.js";
import { startTinyServer, tempDir } from "./helpers.js";
import { assertNoProblems, axeViolations, launchChromium, openPage } from "./playground-browser.js";

const ADMIN_KEY = "nmb-playground-admin-key";
let inferenceKey: string;
let server: NimbleServer;
let browser: Browser;

before(async () => {
  const home = tempDir();
  inferenceKey = KeyStore.inHome(home).create("viewer", "inference").key;
  [server, browser] = await Promise.all([startTinyServer({ threads: 1, ui: true, home, apiKey: [ADMIN_KEY] }), launchChromium()]);
});

after(async () => {
  await browser?.close();
  await server?.close();
});

const tabs = async (page: import("playwright-core").Page) => page.getByRole("tab").allInnerTexts();

async function signIn(page: import("playwright-core").Page, key: string): Promise<void> {
  await page.getByRole("tab", { name: "Access" }).click();
  await page.getByLabel("API key", { exact: true }).fill(key);
  await page.getByRole("button", { name: "Use this key" }).click();
}

describe("GET /v1/whoami", () => {
  it("needs a key, and tells its name and scope", async () => {
    assert.equal((await fetch(`${server.url}/v1/whoami`)).status, 401);
    const who = await fetch(`${server.url}/v1/whoami`, { headers: { authorization: `Bearer ${inferenceKey}` } });
    assert.deepEqual(await who.json(), { object: "whoami", keys_required: true, name: "viewer", scope: "inference" });
    // The page and its files need no key (the page asks for one).
    assert.equal((await fetch(`${server.url}/`)).status, 200);
  });
});

describe("the page with API keys on", () => {
  it("asks for a key, and says clearly when a key is wrong", async () => {
    const watched = await openPage(browser, `${server.url}/`);
    const { page } = watched;
    await page.getByRole("alert").filter({ hasText: "This server requires an API key" }).first().waitFor();
    assert.deepEqual(await tabs(page), ["Chat", "Documents", "Guardrails", "Access"]);
    await signIn(page, "nmb-wrong");
    const error = page.getByTestId("key-error");
    await error.filter({ hasText: "The server refused this API key: Incorrect API key provided." }).waitFor();
    assert.deepEqual(await axeViolations(page), []);
    assertNoProblems(watched);
    await page.context().close();
  });

  it("hides the admin tabs from an inference key", async () => {
    const watched = await openPage(browser, `${server.url}/`);
    const { page } = watched;
    await signIn(page, inferenceKey);
    await page.getByTestId("access-status").filter({ hasText: "inference" }).waitFor();
    assert.deepEqual(await tabs(page), ["Chat", "Documents", "Guardrails", "Access"]);
    assert.match(await page.getByTestId("session").innerText(), /viewer · inference scope/);
    await page.context().close();
  });

  it("shows them to an admin key, which stays for the session (reload)", async () => {
    const watched = await openPage(browser, `${server.url}/`);
    const { page } = watched;
    await signIn(page, ADMIN_KEY);
    await page.getByRole("tab", { name: "Models" }).waitFor();
    await page.reload();
    await page.getByRole("tab", { name: "Metrics" }).waitFor();
    assert.deepEqual(await tabs(page), ["Chat", "Documents", "Guardrails", "Models", "Metrics", "Assistant", "Access"]);
    assert.equal(await page.evaluate(() => sessionStorage.getItem("nimble.apiKey")), ADMIN_KEY);
    assertNoProblems(watched);
    await page.context().close();
  });
});
