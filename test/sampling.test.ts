/**
 * Sampling parameters judged by their EFFECT on the real engine (tiny generated model over HTTP),
 * not by whether they are accepted: top_k/top_p/min_p restrict which tokens can be drawn,
 * penalties break a greedy loop, min_tokens holds off an end of generation that logit_bias forces,
 * and text is decoded from the whole token sequence (UTF-8 characters split across tokens arrive whole).
 * Each check has a control run showing the situation would look different without the parameter.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { postJson, postSse, useTinyServer } from "./helpers.js";

const tiny = useTinyServer({ threads: 1 });

const PROMPT = "Once upon a time";
const complete = (extra: object) => postJson(`${tiny.url}/v1/completions`, { model: "tiny", prompt: PROMPT, max_tokens: 16, ignore_eos: true, ...extra });
const texts = (res: { json: any }): string[] => res.json.choices.map((c: any) => c.text);

/** The chat logprobs of a sampled answer: per token, the chosen token's and the model's top alternatives' logprobs (before sampling settings). */
async function sampledLogprobs(extra: object): Promise<{ logprob: number; top: number[] }[]> {
  const res = await postJson(`${tiny.url}/v1/chat/completions`, {
    model: "tiny", messages: [{ role: "user", content: PROMPT }], max_tokens: 24, ignore_eos: true, temperature: 1.5, seed: 7, logprobs: true, top_logprobs: 20, ...extra,
  });
  assert.equal(res.status, 200, JSON.stringify(res.json));
  return res.json.choices[0].logprobs.content.map((e: any) => ({ logprob: e.logprob, top: e.top_logprobs.map((t: any) => t.logprob) }));
}

/** How often the most frequent `k`-character substring occurs: high for a text stuck in a loop. */
function maxRepeat(text: string, k = 6): number {
  const counts = new Map<string, number>();
  for (let i = 0; i + k <= text.length; i++) counts.set(text.slice(i, i + k), (counts.get(text.slice(i, i + k)) ?? 0) + 1);
  return Math.max(0, ...counts.values());
}

describe("sampling parameters by effect", () => {
  it("top_k 1, a tiny top_p and min_p 1 each make temperature 1 sampling greedy, for every seed", async () => {
    const greedy = texts(await complete({ temperature: 0 }))[0]!;
    const control = texts(await complete({ temperature: 1, seed: 1, n: 8 }));
    assert.ok(control.filter((t) => t !== greedy).length >= 6, "temperature 1 alone is not greedy");
    for (const setting of [{ top_k: 1 }, { top_p: 1e-6 }, { min_p: 1 }]) {
      const sampled = texts(await complete({ temperature: 1, seed: 1, n: 8, ...setting }));
      assert.deepEqual(sampled, Array(8).fill(greedy), JSON.stringify(setting));
    }
  });

  it("top_k k draws only among the model's k most likely tokens", async () => {
    const control = await sampledLogprobs({});
    assert.ok(control.some((t) => t.logprob < t.top[2]!), "without top_k, less likely tokens are drawn too");
    const topK = await sampledLogprobs({ top_k: 3 });
    for (const [i, t] of topK.entries()) assert.ok(t.logprob >= t.top[2]!, `token ${i}: ${t.logprob} is not in the top 3 ${t.top.slice(0, 3)}`);
  });

  it("min_p drops tokens less likely than min_p times the most likely one", async () => {
    const floor = (t: { top: number[] }) => t.top[0]! + Math.log(0.2) - 1e-4;
    const control = await sampledLogprobs({});
    assert.ok(control.some((t) => t.logprob < floor(t)), "without min_p, unlikely tokens are drawn");
    const pruned = await sampledLogprobs({ min_p: 0.2 });
    for (const [i, t] of pruned.entries()) assert.ok(t.logprob >= floor(t), `token ${i}: ${t.logprob} < ${floor(t)}`);
  });

  it("top_p draws only from the nucleus: tokens more likely than the chosen one add up to less than top_p", async () => {
    const above = (t: { logprob: number; top: number[] }) => t.top.filter((lp) => lp > t.logprob + 1e-6).reduce((s, lp) => s + Math.exp(lp), 0);
    const control = await sampledLogprobs({});
    assert.ok(control.some((t) => above(t) >= 0.5), "without top_p, tokens outside the 0.5 nucleus are drawn");
    const nucleus = await sampledLogprobs({ top_p: 0.5 });
    for (const [i, t] of nucleus.entries()) assert.ok(above(t) < 0.5 + 1e-4, `token ${i}: ${above(t)} of probability above it`);
  });

  it("repetition, presence and frequency penalties each break a greedy loop", async () => {
    const loop = (extra: object) => complete({ prompt: "the the the the", max_tokens: 48, temperature: 0, ...extra }).then((r) => texts(r)[0]!);
    const greedy = await loop({});
    assert.ok(maxRepeat(greedy) >= 5, `the greedy continuation repeats: ${JSON.stringify(greedy)}`);
    for (const penalty of [{ repetition_penalty: 2 }, { presence_penalty: 2 }, { frequency_penalty: 2 }]) {
      const text = await loop(penalty);
      assert.notEqual(text, greedy, JSON.stringify(penalty));
      assert.ok(maxRepeat(text) <= 2, `${JSON.stringify(penalty)} still loops: ${JSON.stringify(text)}`);
    }
  });

  it("min_tokens holds off an end of generation that logit_bias forces, exactly until it is reached", async () => {
    const eog = (await postJson(`${tiny.url}/tokenize`, { prompt: "<|endoftext|><|im_end|>", add_special_tokens: false })).json.tokens as number[];
    assert.equal(eog.length, 2);
    const forceEnd = Object.fromEntries(eog.map((t) => [String(t), 100]));
    const body = { max_tokens: 20, ignore_eos: false, temperature: 1, seed: 4, logit_bias: forceEnd };
    const none = await complete(body);
    assert.equal(none.json.usage.completion_tokens, 0);
    assert.equal(none.json.choices[0].finish_reason, "stop");
    const five = await complete({ ...body, min_tokens: 5 });
    assert.equal(five.json.usage.completion_tokens, 5);
    assert.equal(five.json.choices[0].finish_reason, "stop");
    const chat = await postJson(`${tiny.url}/v1/chat/completions`, { model: "tiny", messages: [{ role: "user", content: "hi" }], ...body, min_tokens: 3 });
    assert.equal(chat.json.usage.completion_tokens, 3);
  });
});

describe("UTF-8 characters split across tokens", () => {
  // The byte-level vocabulary has no merged token for non-ASCII bytes, so each of these characters
  // is 2–4 byte tokens: the grammar makes the model emit them, the scheduler must decode them whole.
  const CHARS = "éü€😀ñ";
  const body = { prompt: "x", max_tokens: 60, ignore_eos: false, temperature: 1, seed: 4, guided_regex: `[${CHARS}]{12}` };

  it("the text is the decoding of the whole generated token sequence, streamed and not", async () => {
    const res = await complete(body);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    const text = res.json.choices[0].text as string;
    assert.match(text, new RegExp(`^[${CHARS}]{12}$`, "u"), `no U+FFFD where a character was: ${JSON.stringify(text)}`);
    // Every generated token is one byte of the text (no merges exist for these bytes): the
    // generated sequence is the text's UTF-8 bytes, and detokenizing it gives the text back.
    const bytes = [...Buffer.from(text, "utf8")];
    assert.equal(res.json.usage.completion_tokens, bytes.length);
    assert.ok(bytes.length > [...text].length, "characters were split across tokens");
    const tokens = (await postJson(`${tiny.url}/tokenize`, { prompt: text, add_special_tokens: false })).json.tokens as number[];
    assert.deepEqual(tokens, bytes, "one byte token per byte");
    assert.equal((await postJson(`${tiny.url}/detokenize`, { tokens })).json.prompt, text);

    const events = await postSse(`${tiny.url}/v1/completions`, { model: "tiny", ...body });
    const pieces = events.filter((e) => e !== "[DONE]" && e.choices.length > 0).map((e) => e.choices[0].text as string);
    assert.equal(pieces.join(""), text);
    for (const p of pieces) assert.ok(!p.includes("\ufffd"), `a streamed piece cut a character: ${JSON.stringify(pieces)}`);
  });

  it("chat answers decode split characters too, with a stop string inside the text", async () => {
    const res = await postJson(`${tiny.url}/v1/chat/completions`, { model: "tiny", messages: [{ role: "user", content: "x" }], max_tokens: 60, temperature: 1, seed: 4, guided_regex: `[${CHARS}]{12}` });
    const text = res.json.choices[0].message.content as string;
    assert.match(text, new RegExp(`^[${CHARS}]{12}$`, "u"));
    const stop = [...text].slice(3, 5).join("");
    const cut = await postJson(`${tiny.url}/v1/chat/completions`, { model: "tiny", messages: [{ role: "user", content: "x" }], max_tokens: 60, temperature: 1, seed: 4, guided_regex: `[${CHARS}]{12}`, stop: [stop] });
    assert.equal(cut.json.choices[0].message.content, text.slice(0, text.indexOf(stop)));
  });
});
