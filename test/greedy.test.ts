/**
 * Greedy sampling on the main thread (native/greedy.c, src/engine/greedy.ts): plain-greedy requests
 * get exactly the tokens node-llama-cpp's greedy sampler picks — compared with a second real server
 * started with NIMBLE_GREEDY_FAST=0, on the same concurrent requests — and requests whose sampler is
 * more than greedy (temperature, logit_bias, penalties, a grammar, logprobs) keep using the sampler.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isPlainGreedy } from "../src/engine/scheduler.js";
import type { NimbleServer } from "../src/nimble.js";
import { metricValue, postJson, startTinyServer } from "./helpers.js";

const greedySamples = async (server: NimbleServer) => metricValue(await (await fetch(`${server.url}/v1/metrics`)).text(), "nimble_greedy_samples_total") ?? 0;

describe("isPlainGreedy", () => {
  it("is true only for temperature 0 with no grammar, penalties or biases", () => {
    assert.equal(isPlainGreedy({ temperature: 0, topK: 40, topP: 0.9, minP: 0.05, seed: 3 }), true);
    assert.equal(isPlainGreedy({ temperature: 0, tokenBiasKeys: new Uint32Array(0), tokenBiasValues: new Float32Array(0) }), true);
    assert.equal(isPlainGreedy({}), false, "no temperature: not the greedy chain");
    assert.equal(isPlainGreedy({ temperature: 0.7 }), false);
    assert.equal(isPlainGreedy({ temperature: 0, repeatPenalty: 1.1 }), false);
    assert.equal(isPlainGreedy({ temperature: 0, tokenBiasKeys: Uint32Array.of(5), tokenBiasValues: Float32Array.of(-Infinity) }), false);
    assert.equal(isPlainGreedy({ temperature: 0, grammarEvaluationState: {} }), false);
  });
});

describe("greedy sampling on the main thread", () => {
  let fast: NimbleServer;
  let sampler: NimbleServer;
  before(async () => {
    fast = await startTinyServer({ threads: 1 });
    process.env.NIMBLE_GREEDY_FAST = "0";
    try {
      sampler = await startTinyServer({ threads: 1 });
    } finally {
      delete process.env.NIMBLE_GREEDY_FAST;
    }
  });
  after(async () => {
    await fast?.close();
    await sampler?.close();
  });

  const prompts = ["Once upon a time", "The weather today", "zz", "1 2 3 4 5 6 7 8", "A long time ago in a galaxy", "Hello", "q", "Lorem ipsum dolor sit amet"];
  const run = (server: NimbleServer, extra: object = {}) =>
    Promise.all(prompts.map((prompt) => postJson(`${server.url}/v1/completions`, { model: "tiny", prompt, max_tokens: 24, ignore_eos: true, temperature: 0, ...extra })));

  it("picks the tokens the sampler picks, for concurrent requests in one batch", async () => {
    const before = await greedySamples(fast);
    const [a, b] = await Promise.all([run(fast), run(sampler)]);
    for (let i = 0; i < prompts.length; i++) {
      assert.equal(a[i]!.status, 200, JSON.stringify(a[i]!.json));
      assert.equal(a[i]!.json.usage.completion_tokens, 24);
      assert.equal(a[i]!.json.choices[0].text, b[i]!.json.choices[0].text, prompts[i]);
    }
    assert.ok((await greedySamples(fast)) - before >= prompts.length * 24, "every token of these requests picked on the main thread");
    assert.equal(await greedySamples(sampler), 0, "NIMBLE_GREEDY_FAST=0 turns it off");
  });

  it("leaves requests that need more than greedy to the sampler", async () => {
    const before = await greedySamples(fast);
    const first = (await run(fast))[0]!.json.choices[0].text as string;
    const counted = await greedySamples(fast);
    for (const extra of [{ temperature: 0.8, seed: 1 }, { logit_bias: { "5": -100 } }, { frequency_penalty: 1 }, { guided_regex: "[a-z ]{1,24}" }, { logprobs: 2 }]) {
      const res = (await run(fast, extra))[0]!;
      assert.equal(res.status, 200, JSON.stringify(res.json));
    }
    assert.equal(await greedySamples(fast), counted, "none of those took the fast path");
    assert.ok(counted > before && first.length > 0);
  });
});
