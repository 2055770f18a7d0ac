/** Every error a client can cause gets OpenAI's error shape and the right status; the server keeps serving. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { postJson, useTinyServer } from "./helpers.js";

const tiny = useTinyServer({ ctxSize: 256, bodyLimit: 64 * 1024 });

function assertError(res: { status: number; json: any }, status: number, param?: string | null, messageIncludes?: string[]): void {
  assert.equal(res.status, status, JSON.stringify(res.json));
  assert.equal(typeof res.json.error.message, "string");
  assert.equal(typeof res.json.error.type, "string");
  assert.ok("param" in res.json.error && "code" in res.json.error);
  assert.ok(!/\n\s+at /.test(res.json.error.message), "no stack trace");
  if (param !== undefined) assert.equal(res.json.error.param, param);
  for (const m of messageIncludes ?? []) assert.ok(res.json.error.message.includes(m), `"${res.json.error.message}" should include "${m}"`);
}

const messages = [{ role: "user", content: "hi" }];

describe("errors", () => {
  it("400 on malformed JSON", async () => {
    assertError(await postJson(`${tiny.url}/v1/chat/completions`, "{not json"), 400, null);
  });

  it("400 on a body that is not an object", async () => {
    assertError(await postJson(`${tiny.url}/v1/chat/completions`, "[1,2]"), 400);
  });

  it("400 naming the invalid parameter", async () => {
    const cases: [object, string][] = [
      [{ messages, temperature: 5 }, "temperature"],
      [{ messages, top_p: 0 }, "top_p"],
      [{ messages, max_tokens: -1 }, "max_tokens"],
      [{ messages, n: 0 }, "n"],
      [{ messages, stop: 12 }, "stop"],
      [{ messages: [] }, "messages"],
      [{ messages: [{ role: "user" }] }, "messages.0.content"],
      [{ messages: "hello" }, "messages"],
      [{ messages, presence_penalty: 3 }, "presence_penalty"],
      [{ messages, seed: 1.5 }, "seed"],
      [{ messages, tools: [{ type: "retrieval" }] }, "tools.0.type"],
      [{ messages, min_tokens: 10, max_tokens: 5 }, "min_tokens"],
    ];
    for (const [body, param] of cases) {
      const res = await postJson(`${tiny.url}/v1/chat/completions`, body);
      assertError(res, 400, param, [param]);
    }
    assertError(await postJson(`${tiny.url}/v1/completions`, { prompt: 42 }), 400, "prompt");
    assertError(await postJson(`${tiny.url}/v1/completions`, {}), 400, "prompt");
    assertError(await postJson(`${tiny.url}/v1/completions`, { prompt: "" }), 400, "prompt");
  });

  it("404 for an unknown model, naming it", async () => {
    const res = await postJson(`${tiny.url}/v1/chat/completions`, { model: "gpt-17", messages });
    assertError(res, 404, "model", ["gpt-17"]);
    assert.equal(res.json.error.code, "model_not_found");
  });

  it("404 for an unknown route", async () => {
    const res = await postJson(`${tiny.url}/v1/nothing`, {});
    assertError(res, 404);
  });

  it("413 for a body over the limit", async () => {
    const res = await postJson(`${tiny.url}/v1/chat/completions`, { messages: [{ role: "user", content: "x".repeat(100 * 1024) }] });
    assertError(res, 413);
  });

  it("400 with both numbers when the prompt is longer than the context", async () => {
    const res = await postJson(`${tiny.url}/v1/completions`, { prompt: "word ".repeat(400), max_tokens: 4 });
    assertError(res, 400, "prompt", ["256"]);
    const chat = await postJson(`${tiny.url}/v1/chat/completions`, { messages: [{ role: "user", content: "word ".repeat(400) }] });
    assertError(chat, 400, "messages", ["256"]);
    assert.equal(res.json.error.code, "context_length_exceeded");
    assert.match(res.json.error.message, /prompt has \d+ tokens|\d+ in the prompt/);
    const tokens = Number(/(\d+) (?:tokens\.|in the prompt)/.exec(res.json.error.message)![1]);
    assert.ok(tokens > 256);
  });

  it("400 when prompt plus max_tokens exceed the context", async () => {
    const res = await postJson(`${tiny.url}/v1/completions`, { prompt: "hello", max_tokens: 1000 });
    assertError(res, 400, "max_tokens", ["256", "1000"]);
  });

  it("keeps serving after all of that", async () => {
    const res = await postJson(`${tiny.url}/v1/chat/completions`, { messages, max_tokens: 3 });
    assert.equal(res.status, 200);
  });
});
