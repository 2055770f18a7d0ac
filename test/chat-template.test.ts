/** Chat templates: the model's own, the ChatML fallback, and template errors as 400s. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { createServer } from "../src/nimble.js";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { postJson, tempDir } from "./helpers.js";

async function serveWithTemplate(chatTemplate: string | null) {
  const dir = tempDir();
  const path = join(dir, "m.gguf");
  await generateModel(path, { shape: PRESETS.tiny, chatTemplate });
  const server = await createServer({ model: path, port: 0, home: dir, logLevel: "error" });
  await server.ready;
  return server;
}

describe("chat templates", () => {
  it("turns a template's raise_exception into a 400 naming messages", async () => {
    const server = await serveWithTemplate(
      "{% if messages[0]['role'] != 'user' %}{{ raise_exception('Conversation must start with a user message') }}{% endif %}" +
        "{% for m in messages %}{{ m['content'] }}{% endfor %}",
    );
    try {
      const bad = await postJson(`${server.url}/v1/chat/completions`, { messages: [{ role: "system", content: "s" }, { role: "user", content: "u" }], max_tokens: 2 });
      assert.equal(bad.status, 400);
      assert.equal(bad.json.error.param, "messages");
      assert.equal(bad.json.error.code, "chat_template_error");
      assert.match(bad.json.error.message, /must start with a user message/);
      const good = await postJson(`${server.url}/v1/chat/completions`, { messages: [{ role: "user", content: "u" }], max_tokens: 2 });
      assert.equal(good.status, 200);
    } finally {
      await server.close();
    }
  });

  it("falls back to ChatML for a model without a template, and says so", async () => {
    const server = await serveWithTemplate(null);
    try {
      const engine = await server.ready;
      assert.equal(engine.info.hasChatTemplate, false);
      assert.equal(engine.applyChatTemplate([{ role: "user", content: "hi" }]), "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
      const res = await postJson(`${server.url}/v1/chat/completions`, { messages: [{ role: "user", content: "u" }], max_tokens: 2 });
      assert.equal(res.status, 200);
    } finally {
      await server.close();
    }
  });
});
