/**
 * LoRA adapters from --lora-dir on the tiny model: listed with their parent, selected by name,
 * run concurrently with each other and the base model without mixing results, and picked up
 * from the folder without a restart.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { resolveConfig } from "../src/config.js";
import { generateLora, PRESETS } from "../src/models/generate.js";
import { postJson, postSse, startTinyServer, tempDir } from "./helpers.js";
import type { NimbleServer } from "../src/nimble.js";

const dir = tempDir("nimble-lora-");
let server: NimbleServer;

before(async () => {
  await generateLora(join(dir, "pirate.gguf"), { shape: PRESETS.tiny, seed: 1 });
  await mkdir(join(dir, "poet"));
  await generateLora(join(dir, "poet", "adapter_model.gguf"), { shape: PRESETS.tiny, seed: 2 });
  await writeFile(join(dir, "junk.gguf"), "not a gguf file");
  server = await startTinyServer({ loraDir: dir, loraRefreshInterval: 0.2 });
});
after(() => server.close());

const greedy = (model: string | undefined) => ({ ...(model ? { model } : {}), prompt: "Once upon a time", max_tokens: 24, temperature: 0, ignore_eos: true });
async function complete(model: string | undefined): Promise<string> {
  const { status, json } = await postJson(`${server.url}/v1/completions`, greedy(model));
  assert.equal(status, 200, JSON.stringify(json));
  assert.equal(json.model, model ?? "tiny");
  return json.choices[0].text;
}

describe("LoRA adapters", () => {
  it("lists each adapter in /v1/models with the base model as parent; other files are skipped", async () => {
    const json = await (await fetch(`${server.url}/v1/models`)).json();
    const byId = Object.fromEntries(json.data.map((m: any) => [m.id, m]));
    assert.deepEqual(Object.keys(byId).sort(), ["pirate", "poet", "tiny"]);
    assert.equal(byId.pirate.parent, "tiny");
    assert.equal(byId.poet.root, join("poet", "adapter_model.gguf"));
    assert.equal(byId.tiny.parent, null);
    const junk = await postJson(`${server.url}/v1/completions`, greedy("junk"));
    assert.equal(junk.status, 404);
    assert.equal(junk.json.error.code, "model_not_found");
  });

  it("adapters change the output, and concurrent requests for adapters and the base never mix", async () => {
    const alone = { base: await complete(undefined), pirate: await complete("pirate"), poet: await complete("poet") };
    assert.notEqual(alone.pirate, alone.base);
    assert.notEqual(alone.poet, alone.base);
    assert.notEqual(alone.poet, alone.pirate);
    const names = ["pirate", undefined, "poet", "pirate", undefined, "poet", "poet", "pirate"] as const;
    const together = await Promise.all(names.map((m) => complete(m)));
    together.forEach((text, i) => assert.equal(text, alone[names[i] ?? "base"], `request ${i} (${names[i] ?? "base"})`));
  });

  it("streams chat from an adapter, the stream equal to the non-streamed text", async () => {
    const body = { model: "poet", messages: [{ role: "user", content: "hi" }], max_tokens: 16, temperature: 0 };
    const whole = await postJson(`${server.url}/v1/chat/completions`, body);
    const events = await postSse(`${server.url}/v1/chat/completions`, body);
    const text = events.filter((e) => e !== "[DONE]").map((e) => e.choices[0]?.delta.content ?? "").join("");
    assert.equal(text, whole.json.choices[0].message.content);
    assert.equal(events[0].model, "poet");
  });

  it("picks up an adapter copied into the folder while serving", async () => {
    await copyFile(join(dir, "pirate.gguf"), join(dir, "corsair.gguf"));
    assert.equal(await complete("corsair"), await complete("pirate"));
    await new Promise((r) => setTimeout(r, 250));
    const { data } = await (await fetch(`${server.url}/v1/models`)).json();
    assert.ok(data.some((m: any) => m.id === "corsair" && m.parent === "tiny"));
  });

  it("takes the folder from NIM_PEFT_SOURCE and the interval from NIM_PEFT_REFRESH_INTERVAL", () => {
    const config = resolveConfig({}, { NIM_PEFT_SOURCE: "/loras", NIM_PEFT_REFRESH_INTERVAL: "30" }, undefined);
    assert.equal(config.loraDir, "/loras");
    assert.equal(config.loraRefreshInterval, 30);
  });
});
