/** Anthropic's Messages API on the tiny model: raw HTTP and the official @anthropic-ai/sdk client. */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import Anthropic from "@anthropic-ai/sdk";
import { postJson, useTinyServer } from "./helpers.js";

const tiny = useTinyServer({ ctxSize: 512 });
let client: Anthropic;

const base = { model: "tiny", max_tokens: 24, temperature: 0, messages: [{ role: "user", content: "Tell me about cats." }] };

/** Reads an Anthropic event stream into [event, data] pairs. */
async function events(body: object): Promise<[string, any][]> {
  const res = await fetch(`${tiny.url}/v1/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...body, stream: true }) });
  assert.equal(res.status, 200);
  const text = await res.text();
  return text.split("\n\n").filter(Boolean).map((frame) => {
    const [e, d] = frame.split("\n");
    return [e!.slice("event: ".length), JSON.parse(d!.slice("data: ".length))];
  });
}

describe("anthropic messages", () => {
  // After the file's server has started (root hooks run first).
  before(() => {
    client = new Anthropic({ baseURL: tiny.url, apiKey: "unused", maxRetries: 0 });
  });

  it("answers with a message: text content, stop reason and usage", async () => {
    const { status, json } = await postJson(`${tiny.url}/v1/messages`, { ...base, system: "You are terse." });
    assert.equal(status, 200);
    assert.equal(json.type, "message");
    assert.equal(json.role, "assistant");
    assert.match(json.id, /^msg-/);
    assert.equal(json.content[0].type, "text");
    assert.ok(["end_turn", "max_tokens"].includes(json.stop_reason));
    assert.ok(json.usage.input_tokens > 0);
    assert.ok(json.usage.output_tokens > 0 && json.usage.output_tokens <= 24);
  });

  it("streams message_start … message_stop with the same text", async () => {
    const whole = (await postJson(`${tiny.url}/v1/messages`, base)).json;
    const evs = await events(base);
    assert.deepEqual(
      [...new Set(evs.map(([e]) => e))],
      ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_stop", "message_delta", "message_stop"],
    );
    assert.equal(evs[0]![1].message.usage.input_tokens, whole.usage.input_tokens);
    const text = evs.filter(([e]) => e === "content_block_delta").map(([, d]) => d.delta.text).join("");
    assert.equal(text, whole.content[0].text);
    const delta = evs.find(([e]) => e === "message_delta")![1];
    assert.equal(delta.delta.stop_reason, whole.stop_reason);
    assert.equal(delta.usage.output_tokens, whole.usage.output_tokens);
  });

  it("reports which stop sequence ended the message", async () => {
    const full = (await postJson(`${tiny.url}/v1/messages`, { ...base, max_tokens: 60 })).json.content[0].text as string;
    const stop = full.slice(10, 13);
    const { json } = await postJson(`${tiny.url}/v1/messages`, { ...base, max_tokens: 60, stop_sequences: ["\u0000nope", stop] });
    assert.equal(json.stop_reason, "stop_sequence");
    assert.equal(json.stop_sequence, stop);
    assert.equal(json.content[0].text, full.slice(0, full.indexOf(stop)));
  });

  it("counts tokens like the message itself", async () => {
    const body = { model: "tiny", system: "sys", messages: [{ role: "user", content: [{ type: "text", text: "hello" }] }] };
    const count = await postJson(`${tiny.url}/v1/messages/count_tokens`, body);
    const message = await postJson(`${tiny.url}/v1/messages`, { ...body, max_tokens: 1 });
    assert.equal(count.json.input_tokens, message.json.usage.input_tokens);
  });

  it("answers errors in Anthropic's shape", async () => {
    const cases: [unknown, number, string, RegExp][] = [
      [{ ...base, max_tokens: undefined }, 400, "invalid_request_error", /max_tokens/],
      [{ ...base, temperature: 1.5 }, 400, "invalid_request_error", /temperature/],
      [{ ...base, messages: [{ role: "user", content: [{ type: "image", source: {} }] }] }, 400, "invalid_request_error", /image/],
      [{ ...base, tools: [{ name: "t" }] }, 400, "invalid_request_error", /tools/],
      [{ ...base, model: "claude-9" }, 404, "not_found_error", /claude-9/],
      ["{oops", 400, "invalid_request_error", /JSON/],
    ];
    for (const [body, status, type, message] of cases) {
      const res = await postJson(`${tiny.url}/v1/messages`, body);
      assert.equal(res.status, status, JSON.stringify(body));
      assert.equal(res.json.type, "error");
      assert.equal(res.json.error.type, type);
      assert.match(res.json.error.message, message);
    }
  });

  it("works with the official @anthropic-ai/sdk, streaming and not", async () => {
    // The SDK's types no longer list temperature; it still sends what it is given, and greedy keeps this deterministic.
    const params = { model: "tiny", max_tokens: 16, temperature: 0, messages: [{ role: "user" as const, content: "Hi" }] };
    const message = await client.messages.create(params as Anthropic.MessageCreateParamsNonStreaming);
    assert.equal(message.content[0]!.type, "text");
    let streamed = "";
    const stream = client.messages.stream(params as Anthropic.MessageCreateParamsNonStreaming);
    stream.on("text", (t) => (streamed += t));
    const final = await stream.finalMessage();
    assert.equal(streamed, (message.content[0] as { text: string }).text);
    assert.equal(final.usage.output_tokens, message.usage.output_tokens);
    const counted = await client.messages.countTokens({ model: "tiny", messages: [{ role: "user", content: "Hi" }] });
    assert.equal(counted.input_tokens, message.usage.input_tokens);
    await assert.rejects(client.messages.create({ model: "nope", max_tokens: 4, messages: [{ role: "user", content: "x" }] }), Anthropic.NotFoundError);
  });
});
