/** The official `openai` npm client works against Nimble unchanged. */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import OpenAI from "openai";
import { useTinyServer } from "./helpers.js";

const tiny = useTinyServer();
let client: OpenAI;

describe("openai npm client", () => {
  // After the file's server has started (root hooks run first).
  before(() => {
    client = new OpenAI({ baseURL: `${tiny.url}/v1`, apiKey: "unused", maxRetries: 0 });
  });

  it("lists models", async () => {
    const models = await client.models.list();
    assert.deepEqual(models.data.map((m) => m.id), ["tiny"]);
  });

  it("creates a chat completion", async () => {
    const res = await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "Hello" }], max_tokens: 10, temperature: 0 });
    assert.equal(res.choices[0]!.message.role, "assistant");
    assert.ok(res.usage!.completion_tokens > 0);
  });

  it("streams a chat completion with usage", async () => {
    // ignore_eos is a vLLM/NIM extension the client passes through untouched.
    const params = { model: "tiny", messages: [{ role: "user" as const, content: "Hello" }], max_tokens: 16, temperature: 0, ignore_eos: true };
    const stream = await client.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } } as OpenAI.ChatCompletionCreateParamsStreaming);
    let text = "";
    let usage;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? "";
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(usage?.completion_tokens, 16);
    const whole = await client.chat.completions.create(params as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.equal(text, whole.choices[0]!.message.content);
  });

  it("parses logprobs", async () => {
    const res = await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "Hello" }], max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 2 });
    const content = res.choices[0]!.logprobs!.content!;
    assert.equal(content.length, res.usage!.completion_tokens);
    assert.equal(content[0]!.top_logprobs.length, 2);
  });

  it("creates a completion", async () => {
    const res = await client.completions.create({ model: "tiny", prompt: "Once upon", max_tokens: 5, temperature: 0 });
    assert.equal(res.object, "text_completion");
    assert.equal(typeof res.choices[0]!.text, "string");
  });

  it("surfaces Nimble's errors as the client's typed errors", async () => {
    await assert.rejects(client.chat.completions.create({ model: "nope", messages: [{ role: "user", content: "x" }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.NotFoundError);
      return true;
    });
    await assert.rejects(client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "x" }], temperature: 9 }), OpenAI.BadRequestError);
  });
});
