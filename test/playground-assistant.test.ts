/**
 * The playground's Assistant tab in Debian's Chromium, on a real Nimble (tiny model, an admin key)
 * whose assistant is driven by a scripted OpenAI-compatible model (the only mock): the user types a
 * request, sees the plan; Decline changes nothing (checked over the API), Confirm performs it (the
 * key exists and works). An inference key neither sees the tab nor reaches its endpoints.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { KeyStore } from "../src/keys/store.js";
import type { NimbleServer } from "../src/nimble.js";
import { startTinyServer, tempDir } from "./helpers.js";
import { assertNoProblems, axeViolations, launchChromium, openPage, openTab } from "./playground-browser.js";
import { call, ScriptedModel } from "./scripted-chat-model.js";

const ADMIN = "admin-secret";
const model = new ScriptedModel();
let server: NimbleServer;
let browser: Browser;
let inferenceKey: string;

before(async () => {
  await model.start();
  const home = tempDir();
  inferenceKey = KeyStore.inHome(home).create("viewer", "inference").key;
  [server, browser] = await Promise.all([startTinyServer({ ui: true, threads: 1, home, apiKey: [ADMIN], assistantUrl: model.url, assistantModel: "scripted" }), launchChromium()]);
});

after(async () => {
  await browser?.close();
  await server?.close();
  await model.close();
});

const keyNames = async () => ((await (await fetch(`${server.url}/v1/admin/keys`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()).data as { name: string }[]).map((k) => k.name);

describe("the Assistant tab", () => {
  it("shows the plan; Decline changes nothing, Confirm creates the key", async () => {
    model.play([
      { calls: [call("create_api_key", { name: "web-app", scope: "inference", rpm: 30 })] },
      { content: "Fine, no key. Shall I make it after all?" },
      { calls: [call("create_api_key", { name: "web-app", scope: "inference", rpm: 30 })] },
      { content: "The key web-app is made: use it in your web app." },
    ]);
    const watched = await openPage(browser, `${server.url}/`);
    const { page } = watched;
    await page.getByRole("tab", { name: "Access" }).click();
    await page.getByLabel("API key", { exact: true }).fill(ADMIN);
    await page.getByRole("button", { name: "Use this key" }).click();
    await openTab(page, "Assistant");
    await page.getByTestId("assistant-driver").filter({ hasText: "Driven by scripted" }).waitFor();

    await page.getByLabel("Message to the assistant", { exact: true }).fill("A key for our web app, please.");
    await page.getByRole("button", { name: "Send" }).click();
    const plan = page.getByTestId("assistant-plan");
    await plan.waitFor();
    assert.match(await plan.innerText(), /create the inference API key "web-app" limited to 30 requests\/minute/);
    assert.equal(await page.getByRole("button", { name: "Send" }).isDisabled(), true, "a plan waits for a decision first");
    assert.deepEqual(await axeViolations(page), []);

    await page.getByRole("button", { name: "Decline" }).click();
    await page.getByTestId("assistant-line-assistant").filter({ hasText: "Fine, no key." }).waitFor();
    assert.equal(await plan.count(), 0);
    assert.deepEqual(await keyNames(), ["viewer"], "declined: no key");
    const told = model.requests[1].messages.at(-1);
    assert.equal(JSON.parse(told.content).status, "refused");

    await page.getByLabel("Message to the assistant", { exact: true }).fill("Yes, make it.");
    await page.getByRole("button", { name: "Send" }).click();
    await plan.waitFor();
    assert.deepEqual(await keyNames(), ["viewer"], "nothing happens before Confirm");
    await page.getByRole("button", { name: "Confirm" }).click();
    await page.getByTestId("assistant-line-assistant").filter({ hasText: "The key web-app is made" }).waitFor();
    assert.deepEqual(await keyNames(), ["viewer", "web-app"]);
    const shown = await page.getByTestId("assistant-messages").innerText();
    const key = /shown once, store it now\): (nmb-\S+)/.exec(shown)?.[1];
    assert.ok(key, shown);
    assert.equal((await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).status, 200, "the key works");
    assert.match(shown, /Confirmed: create the inference API key "web-app"/);
    assertNoProblems(watched);
    await page.context().close();
  });

  it("is hidden from an inference key, whose calls to its endpoints are refused", async () => {
    const watched = await openPage(browser, `${server.url}/`);
    const { page } = watched;
    await page.getByRole("tab", { name: "Access" }).click();
    await page.getByLabel("API key", { exact: true }).fill(inferenceKey);
    await page.getByRole("button", { name: "Use this key" }).click();
    await page.getByTestId("access-status").filter({ hasText: "inference" }).waitFor();
    assert.ok(!(await page.getByRole("tab").allInnerTexts()).includes("Assistant"));
    const res = await fetch(`${server.url}/v1/admin/assistant/conversations`, { method: "POST", headers: { authorization: `Bearer ${inferenceKey}`, "content-type": "application/json" }, body: JSON.stringify({ message: "make me an admin key" }) });
    assert.equal(res.status, 403);
    await page.context().close();
  });

  it("answers a decision on a plan that is not waiting with a 409, and an unknown conversation with a 404", async () => {
    model.play([{ content: "What do you need?" }]);
    const post = (path: string, body: unknown) => fetch(`${server.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    const first = await (await post("/v1/admin/assistant/conversations", { message: "hello" })).json();
    assert.deepEqual(first.pending, { type: "message" });
    assert.deepEqual(first.events.map((e: any) => e.text), ["You: hello", "Assistant: What do you need?"]);
    const wrong = await post(`/v1/admin/assistant/conversations/${first.id}/plans/${crypto.randomUUID()}/confirm`, {});
    assert.equal(wrong.status, 409);
    assert.equal((await wrong.json()).error.code, "not_waiting");
    assert.equal((await post(`/v1/admin/assistant/conversations/${crypto.randomUUID()}/messages`, { message: "x" })).status, 404);
    assert.equal((await post("/v1/admin/assistant/conversations", { message: "" })).status, 400);
    const del = (id: string) => fetch(`${server.url}/v1/admin/assistant/conversations/${id}`, { method: "DELETE", headers: { authorization: `Bearer ${ADMIN}` } });
    assert.equal((await del(first.id)).status, 200);
    // Ending a conversation with a plan waiting does not carry it out.
    model.play([{ calls: [call("create_api_key", { name: "never-made" })] }]);
    const planned = await (await post("/v1/admin/assistant/conversations", { message: "a key" })).json();
    assert.equal(planned.pending.type, "confirm");
    assert.equal((await del(planned.id)).status, 200);
    assert.ok(!(await keyNames()).includes("never-made"));
    assert.equal((await post(`/v1/admin/assistant/conversations/${planned.id}/plans/${planned.pending.plan_id}/confirm`, {})).status, 404);
  });
});
