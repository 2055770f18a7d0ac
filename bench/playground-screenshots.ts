/**
 * Regenerates docs/playground/*.png, one screenshot per playground tab (`npm run docs:screenshots`
 * after `npm run build`): a real Nimble on generated models (random weights: the answers are
 * gibberish) with a document store, driven in Debian's Chromium. The guardrails tab is shot
 * against the test suite's scripted stand-in while the server has no guardrails endpoints.
 */
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { mkdtempSync } from "node:fs";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { detectHardware, planProfiles } from "../src/models/profiles.js";
import { createServer } from "../src/nimble.js";
import { launchChromium, openTab } from "../test/playground-browser.js";
import { startStandIn } from "../test/playground-standin.js";
import { call, ScriptedModel } from "../test/scripted-chat-model.js";

const OUT = fileURLToPath(new URL("../../docs/playground/", import.meta.url));
const PDF = fileURLToPath(new URL("../../test/fixtures/rag/two-pages.pdf", import.meta.url));

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const home = mkdtempSync(join(tmpdir(), "nimble-shots-"));
  const model = join(home, "tiny.gguf");
  const embeddingModel = join(home, "embed.gguf");
  await generateModel(model, { shape: PRESETS.demo, seed: 42 });
  await generateModel(embeddingModel, { shape: PRESETS.embedding, seed: 42, poolingType: 1, chatTemplate: null });
  const plan = await planProfiles(model, await detectHardware("cpu"));
  // The Assistant tab is driven by a scripted model (a random-weight one cannot plan).
  const assistant = new ScriptedModel();
  await assistant.start();
  const server = await createServer({ model, servedModelName: "demo", embeddingModel, home, port: 0, threads: 1, logLevel: "error", ui: true, servingProfiles: { chosen: plan.chosen?.name ?? null, profiles: plan.profiles }, assistantUrl: assistant.url, assistantModel: "scripted-assistant" });
  await server.ready;
  const browser = await launchChromium();
  const standIn = (await fetch(`${server.url}/v1/guardrail/configs`)).status === 404 ? await startStandIn() : undefined;
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: "light" });
    const shot = (name: string) => page.screenshot({ path: join(OUT, `${name}.png`) });
    await page.goto(`${server.url}/#documents`);
    await page.getByLabel("New store name", { exact: true }).fill("reports");
    await page.getByRole("button", { name: "Create store" }).click();
    await page.getByLabel("Upload files (or drop them here)").setInputFiles(PDF);
    await page.locator('[data-testid="upload"][data-status="completed"]').waitFor({ timeout: 60_000 });
    await page.getByLabel("Search query", { exact: true }).fill("zeppelin hangar inventory");
    await page.getByRole("button", { name: "Search" }).click();
    await page.getByTestId("search-hit").first().waitFor();
    await shot("documents");

    await openTab(page, "Chat");
    await page.getByLabel("System prompt", { exact: true }).fill("You are a helpful assistant.");
    await page.getByLabel("Max tokens", { exact: true }).fill("60");
    await page.getByLabel("Seed", { exact: true }).fill("3");
    await page.getByLabel("reports", { exact: true }).check();
    await page.getByLabel("Message", { exact: true }).fill("What does the zeppelin hangar inventory list?");
    await page.getByRole("button", { name: "Send" }).click();
    await page.getByTestId("message-assistant").last().getByTestId("stats").waitFor({ timeout: 60_000 });
    await shot("chat");

    await openTab(page, "Metrics");
    // Some traffic while the charts fill.
    for (let i = 0; i < 4; i++) {
      await Promise.all(Array.from({ length: 3 }, (_, k) => fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ messages: [{ role: "user", content: `hello ${i} ${k}` }], max_tokens: 48 + 16 * k }) })));
      await page.waitForTimeout(2100);
    }
    await shot("metrics");

    await openTab(page, "Models");
    await page.getByTestId("profiles").waitFor();
    await shot("models");

    await openTab(page, "Access");
    await shot("access");

    assistant.play([
      { calls: [call("inspect_machine", {})] },
      { content: "This machine has no GPU, so a 3B model at 4-bit is the best fit for a few users. Shall I make a key for your web app first?" },
      { calls: [call("create_api_key", { name: "web-app", scope: "inference", rpm: 60 })] },
    ]);
    await openTab(page, "Assistant");
    await page.getByLabel("Message to the assistant", { exact: true }).fill("A support assistant over our PDF manuals on this laptop, for our web app.");
    await page.getByRole("button", { name: "Send" }).click();
    await page.getByTestId("assistant-line-assistant").waitFor();
    await page.getByLabel("Message to the assistant", { exact: true }).fill("Yes, the key first.");
    await page.getByRole("button", { name: "Send" }).click();
    await page.getByTestId("assistant-plan").waitFor();
    await shot("assistant");

    const guard = standIn ? await browser.newPage({ viewport: { width: 1280, height: 800 }, colorScheme: "light" }) : page;
    if (standIn) await guard.goto(`${standIn.url}/#guardrails`);
    else {
      // A configuration to show, put in without a restart.
      const yaml = "configs:\n  support:\n    rails:\n      - {name: pii, kind: pii, type: input, action: mask}\n      - {name: jailbreak, kind: injection, type: input, action: block}\n";
      await fetch(`${server.url}/v1/admin/guardrails`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ yaml }) });
      await guard.reload();
      await openTab(guard, "Guardrails");
    }
    await guard.getByLabel("Message to check", { exact: true }).fill("Write to me at jane@example.com");
    await guard.getByRole("button", { name: "Check" }).click();
    await guard.getByTestId("rail-row").first().waitFor();
    await guard.screenshot({ path: join(OUT, "guardrails.png") });
    process.stdout.write(`screenshots written to ${OUT}\n`);
  } finally {
    await browser.close();
    await standIn?.app.close();
    await server.close();
    await assistant.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`playground-screenshots: ${(err as Error).message}\n`);
  process.exit(1);
});
