/** Chat and completions over HTTP against the real engine on the tiny model. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NO_STRAY_BYTES, postJson, postSse, useTinyServer } from "./helpers.js";

const tiny = useTinyServer();

const chat = (extra: object = {}) => ({ model: "tiny", messages: [{ role: "user", content: "Tell me a story about a cat." }], temperature: 0, max_tokens: 24, ...extra });

function streamedText(events: any[], index = 0, field: "chat" | "completion" = "chat"): string {
  return events
    .filter((e) => e !== "[DONE]" && e.choices.length > 0 && e.choices[0].index === index)
    .map((e) => (field === "chat" ? e.choices[0].delta.content ?? "" : e.choices[0].text))
    .join("");
}

describe("chat completions", () => {
  it("returns a chat.completion with usage", async () => {
    const { status, json } = await postJson(`${tiny.url}/v1/chat/completions`, chat());
    assert.equal(status, 200);
    assert.equal(json.object, "chat.completion");
    assert.equal(json.model, "tiny");
    assert.equal(json.choices.length, 1);
    assert.equal(json.choices[0].message.role, "assistant");
    assert.equal(typeof json.choices[0].message.content, "string");
    assert.ok(["stop", "length"].includes(json.choices[0].finish_reason));
    assert.ok(json.usage.prompt_tokens > 0);
    assert.equal(json.usage.total_tokens, json.usage.prompt_tokens + json.usage.completion_tokens);
  });

  it("streams the same text as the non-streamed response, ending in [DONE]", async () => {
    const body = chat({ max_tokens: 64, ignore_eos: true });
    const { json } = await postJson(`${tiny.url}/v1/chat/completions`, body);
    const events = await postSse(`${tiny.url}/v1/chat/completions`, { ...body, stream_options: { include_usage: true } });
    assert.equal(events.at(-1), "[DONE]");
    assert.equal(events[0].choices[0].delta.role, "assistant");
    assert.equal(events[0].object, "chat.completion.chunk");
    assert.equal(streamedText(events), json.choices[0].message.content);
    const finish = events.filter((e) => e !== "[DONE]" && e.choices[0]?.finish_reason);
    assert.equal(finish.length, 1);
    assert.equal(finish[0].choices[0].finish_reason, "length");
    const usage = events.at(-2);
    assert.deepEqual(usage.choices, []);
    assert.equal(usage.usage.completion_tokens, 64);
    assert.equal(usage.usage.prompt_tokens, json.usage.prompt_tokens);
  });

  it("every streamed piece is valid UTF-8 text (no lone surrogates)", async () => {
    const events = await postSse(`${tiny.url}/v1/chat/completions`, chat({ max_tokens: 200, ignore_eos: true, temperature: 1, seed: 3 }));
    for (const e of events) {
      if (e === "[DONE]") continue;
      const piece: string = e.choices[0]?.delta?.content ?? "";
      assert.ok(!/\p{Surrogate}/u.test(piece), `lone surrogate in ${JSON.stringify(piece)}`);
      assert.equal(Buffer.from(piece, "utf8").toString("utf8"), piece);
    }
  });

  it("gives n choices", async () => {
    const { json } = await postJson(`${tiny.url}/v1/chat/completions`, chat({ n: 2, temperature: 1, seed: 11 }));
    assert.equal(json.choices.length, 2);
    assert.deepEqual(json.choices.map((c: any) => c.index), [0, 1]);
    assert.notEqual(json.choices[0].message.content, json.choices[1].message.content);
    const streamed = await postSse(`${tiny.url}/v1/chat/completions`, chat({ n: 2, temperature: 1, seed: 11 }));
    assert.equal(streamedText(streamed, 0), json.choices[0].message.content);
    assert.equal(streamedText(streamed, 1), json.choices[1].message.content);
  });

  it("is reproducible with a seed and varies without", async () => {
    const body = chat({ temperature: 1, top_p: 0.95, top_k: 40, max_tokens: 32, ignore_eos: true });
    const a = await postJson(`${tiny.url}/v1/chat/completions`, { ...body, seed: 1234 });
    const b = await postJson(`${tiny.url}/v1/chat/completions`, { ...body, seed: 1234 });
    const c = await postJson(`${tiny.url}/v1/chat/completions`, { ...body, seed: 99 });
    assert.equal(a.json.choices[0].message.content, b.json.choices[0].message.content);
    assert.notEqual(a.json.choices[0].message.content, c.json.choices[0].message.content);
  });

  it("gives identical greedy output alone and batched with 3 others", async () => {
    const prompts = ["alpha beta gamma", "the quick brown fox", "lorem ipsum dolor", "one two three four"];
    const body = (content: string) => chat({ messages: [{ role: "user", content }], max_tokens: 48, ignore_eos: true });
    const alone: string[] = [];
    for (const p of prompts) alone.push((await postJson(`${tiny.url}/v1/chat/completions`, body(p))).json.choices[0].message.content);
    const together = await Promise.all(prompts.map((p) => postJson(`${tiny.url}/v1/chat/completions`, body(p))));
    assert.deepEqual(together.map((r) => r.json.choices[0].message.content), alone);
  });

  it("stops at a stop string, which is not included", async () => {
    const full = (await postJson(`${tiny.url}/v1/chat/completions`, chat({ max_tokens: 64, ignore_eos: true }))).json.choices[0].message.content as string;
    const stop = full.slice(20, 23);
    assert.equal(stop.length, 3);
    const expected = full.slice(0, full.indexOf(stop));
    const { json } = await postJson(`${tiny.url}/v1/chat/completions`, chat({ max_tokens: 64, ignore_eos: true, stop: ["\u0000never", stop, "zzzzzz", "qqqqqq"] }));
    assert.equal(json.choices[0].message.content, expected);
    assert.equal(json.choices[0].finish_reason, "stop");
    const events = await postSse(`${tiny.url}/v1/chat/completions`, chat({ max_tokens: 64, ignore_eos: true, stop }));
    assert.equal(streamedText(events), expected);
  });

  it("honours max_tokens and max_completion_tokens; ignore_eos gives exactly max_tokens", async () => {
    const a = await postJson(`${tiny.url}/v1/chat/completions`, chat({ max_tokens: 7, ignore_eos: true }));
    assert.equal(a.json.usage.completion_tokens, 7);
    assert.equal(a.json.choices[0].finish_reason, "length");
    const b = await postJson(`${tiny.url}/v1/chat/completions`, chat({ max_tokens: undefined, max_completion_tokens: 5, ignore_eos: true }));
    assert.equal(b.json.usage.completion_tokens, 5);
    const c = await postJson(`${tiny.url}/v1/chat/completions`, chat({ max_tokens: 300, ignore_eos: true, temperature: 1, seed: 5 }));
    assert.equal(c.json.usage.completion_tokens, 300);
  });

  it("accepts every sampling parameter", async () => {
    const { status, json } = await postJson(
      `${tiny.url}/v1/chat/completions`,
      chat({ temperature: 0.7, top_p: 0.9, top_k: 20, min_p: 0.05, seed: 1, repetition_penalty: 1.1, presence_penalty: 0.5, frequency_penalty: 0.5, min_tokens: 4, max_tokens: 12 }),
    );
    assert.equal(status, 200, JSON.stringify(json));
    assert.ok(json.usage.completion_tokens >= 4);
  });

  it("applies logit_bias: +100 forces a token, -100 bans one", async () => {
    const forced = await postJson(`${tiny.url}/v1/chat/completions`, chat({ max_tokens: 8, ignore_eos: true, temperature: 1, seed: 2, logit_bias: { "65": 100 } }));
    assert.equal(forced.status, 200, JSON.stringify(forced.json));
    assert.equal(forced.json.choices[0].message.content, "AAAAAAAA");
    const plain = await postJson(`${tiny.url}/v1/completions`, { prompt: "xyz", max_tokens: 1, temperature: 0, ignore_eos: true });
    const first = (await postJson(`${tiny.url}/tokenize`, { prompt: plain.json.choices[0].text, add_special_tokens: false })).json.tokens[0];
    const banned = await postJson(`${tiny.url}/v1/completions`, { prompt: "xyz", max_tokens: 1, temperature: 0, ignore_eos: true, logit_bias: { [first]: -100 } });
    assert.notEqual(banned.json.choices[0].text, plain.json.choices[0].text);
    for (const [bias, param] of [[{ abc: 1 }, "logit_bias.abc"], [{ "99999": 1 }, "logit_bias.99999"], [{ "5": 101 }, "logit_bias.5"]] as const) {
      const res = await postJson(`${tiny.url}/v1/chat/completions`, chat({ logit_bias: bias }));
      assert.equal(res.status, 400);
      assert.equal(res.json.error.param, param);
    }
  });

  it("returns logprobs and top_logprobs, the same streamed and not", async () => {
    const body = chat({ max_tokens: 12, ignore_eos: true, logprobs: true, top_logprobs: 3 });
    const { status, json } = await postJson(`${tiny.url}/v1/chat/completions`, body);
    assert.equal(status, 200, JSON.stringify(json));
    const content = json.choices[0].logprobs.content;
    assert.equal(content.length, json.usage.completion_tokens);
    for (const entry of content) {
      assert.ok(entry.logprob <= 0);
      assert.equal(entry.top_logprobs.length, 3);
      const lps = entry.top_logprobs.map((t: any) => t.logprob);
      assert.deepEqual(lps, [...lps].sort((a: number, b: number) => b - a));
      assert.ok(lps.reduce((sum: number, lp: number) => sum + Math.exp(lp), 0) <= 1.0001);
      // Greedy: the chosen token is the most likely one.
      assert.equal(entry.token, entry.top_logprobs[0].token);
      assert.equal(entry.logprob, entry.top_logprobs[0].logprob);
      assert.deepEqual(entry.bytes, [...Buffer.from(entry.token)]);
    }
    const events = await postSse(`${tiny.url}/v1/chat/completions`, body);
    const streamed = events.filter((e) => e !== "[DONE]" && e.choices[0]?.logprobs).flatMap((e) => e.choices[0].logprobs.content);
    assert.deepEqual(streamed, content);
    const none = await postJson(`${tiny.url}/v1/chat/completions`, chat({ max_tokens: 2 }));
    assert.equal(none.json.choices[0].logprobs, null);
    const bad = await postJson(`${tiny.url}/v1/chat/completions`, chat({ top_logprobs: 2 }));
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, "top_logprobs");
  });

  it("returns completions logprobs in the legacy shape", async () => {
    // Byte tokens 0x80–0xFF banned: every token is whole characters, so token texts add up to the text.
    const { json } = await postJson(`${tiny.url}/v1/completions`, { prompt: "Once upon", max_tokens: 6, temperature: 0, ignore_eos: true, logprobs: 2, logit_bias: NO_STRAY_BYTES });
    const lp = json.choices[0].logprobs;
    assert.equal(lp.tokens.length, 6);
    assert.equal(lp.token_logprobs.length, 6);
    assert.equal(lp.top_logprobs.length, 6);
    assert.ok(Object.keys(lp.top_logprobs[0]).length <= 2);
    assert.equal(lp.text_offset[0], 0);
    for (let i = 1; i < 6; i++) assert.equal(lp.text_offset[i], lp.text_offset[i - 1] + lp.tokens[i - 1].length);
    assert.equal(lp.tokens.join(""), json.choices[0].text);
  });

  it("reuses the cached prefix of an earlier request (multi-turn)", async () => {
    const system = { role: "system", content: "You are a helpful assistant. ".repeat(20) };
    const first = await postJson(`${tiny.url}/v1/chat/completions`, chat({ messages: [system, { role: "user", content: "first question" }] }));
    assert.equal(first.status, 200);
    const second = await postJson(
      `${tiny.url}/v1/chat/completions`,
      chat({ messages: [system, { role: "user", content: "first question" }, first.json.choices[0].message, { role: "user", content: "and another" }] }),
    );
    const cached = second.json.usage.prompt_tokens_details.cached_tokens;
    assert.ok(cached >= first.json.usage.prompt_tokens - 1, `cached ${cached} of ${second.json.usage.prompt_tokens}`);
    assert.ok(cached < second.json.usage.prompt_tokens);
  });
});

describe("completions", () => {
  it("completes a prompt string, streamed and not, with the same text", async () => {
    const body = { model: "tiny", prompt: "Once upon a time", max_tokens: 40, temperature: 0, ignore_eos: true };
    const { status, json } = await postJson(`${tiny.url}/v1/completions`, body);
    assert.equal(status, 200);
    assert.equal(json.object, "text_completion");
    assert.equal(json.usage.completion_tokens, 40);
    const events = await postSse(`${tiny.url}/v1/completions`, body);
    assert.equal(events.at(-1), "[DONE]");
    assert.equal(streamedText(events, 0, "completion"), json.choices[0].text);
  });

  it("completes an array of prompts, n choices each", async () => {
    const { json } = await postJson(`${tiny.url}/v1/completions`, { model: "tiny", prompt: ["abc", "a much longer prompt here"], n: 2, max_tokens: 5, ignore_eos: true, temperature: 0 });
    assert.equal(json.choices.length, 4);
    assert.deepEqual(json.choices.map((c: any) => c.index), [0, 1, 2, 3]);
    assert.equal(json.choices[0].text, json.choices[1].text);
    assert.notEqual(json.choices[0].text, json.choices[2].text);
    assert.equal(json.usage.completion_tokens, 20);
  });
});

describe("models", () => {
  it("lists the served model", async () => {
    const res = await fetch(`${tiny.url}/v1/models`);
    const json: any = await res.json();
    assert.equal(json.object, "list");
    assert.equal(json.data[0].id, "tiny");
    assert.equal(json.data[0].object, "model");
    assert.ok(json.data[0].max_model_len > 0);
    assert.equal(json.data[0].nimble.demo, false);
  });
});
