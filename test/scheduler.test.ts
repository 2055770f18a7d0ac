/**
 * The scheduler alone, on a scripted llama.cpp context: what goes into each decode step
 * (continuous batching, ascending sequence ids, prefill budget), prefix reuse, min_tokens,
 * cancellation and the queue bound. The fake "model" emits A, B, C, … and wants to end
 * (token 99) after `eogAfter` tokens.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NativeContext, NativeSampler, NativeSamplerConfig } from "../src/engine/native.js";
import { Scheduler, type SchedulerOptions } from "../src/engine/scheduler.js";
import { FixedThreads } from "../src/engine/threads.js";
import { QueueFullError, QueueTimeoutError, type GenerationRequest } from "../src/engine/types.js";
import { FairQueue } from "../src/engine/fair-queue.js";

const EOG = 99;

interface BatchEntry { seq: number; pos: number; tokens: number[] }

class FakeSampler implements NativeSampler {
  config: NativeSamplerConfig = {};
  generated = 0;
  applyConfig(config: NativeSamplerConfig): void { this.config = config; }
  dispose(): void {}
}

class FakeContext implements NativeContext {
  batches: BatchEntry[][] = [];
  removed: [number, number, number][] = [];
  /** Each setAdapter call, with how many batches had been decoded before it. */
  adapterChanges: { adapter: string; beforeBatch: number }[] = [];
  private current: BatchEntry[] = [];
  private size = 0;
  threads = 1;
  constructor(private readonly eogAfter = Infinity) {}
  initBatch(size: number): void { this.current = []; this.size = size; }
  addToBatch(seq: number, pos: number, tokens: Uint32Array, logits: Uint32Array): Uint32Array {
    const offset = this.current.reduce((n, e) => n + e.tokens.length, 0);
    this.current.push({ seq, pos, tokens: [...tokens] });
    assert.ok(offset + tokens.length <= this.size, "batch overflow");
    return Uint32Array.from([...logits].map((i) => offset + i));
  }
  async decodeBatch(): Promise<void> {
    this.batches.push(this.current);
    await new Promise((r) => setImmediate(r));
  }
  sampleToken(index: number, sampler: NativeSampler): Promise<number>;
  sampleToken(index: number, sampler: NativeSampler, probabilities: true): Promise<[number, number[]?]>;
  async sampleToken(_index: number, sampler: NativeSampler, probabilities?: true): Promise<number | [number, number[]?]> {
    const token = this.pick(sampler as FakeSampler);
    // The fake model's distribution: A 0.5, B 0.3, C 0.2.
    return probabilities ? [token, [65, 0.5, 66, 0.3, 67, 0.2]] : token;
  }
  private pick(s: FakeSampler): number {
    const keys = [...(s.config.tokenBiasKeys ?? [])];
    const values = [...(s.config.tokenBiasValues ?? [])];
    const favoured = keys.find((_, i) => values[i]! >= 100);
    if (favoured !== undefined) { s.generated++; return favoured; }
    const eogBanned = keys.some((k, i) => k === EOG && values[i] === -Infinity);
    const token = s.generated >= this.eogAfter && !eogBanned ? EOG : 65 + (s.generated % 26);
    s.generated++;
    return token;
  }
  /** Whether a sequence's cache can drop a suffix (some llama.cpp caches cannot: only whole sequences). */
  canTrim = true;
  removeTokenCellsFromSequence(seq: number, start: number, end: number): boolean { this.removed.push([seq, start, end]); return start === 0 || this.canTrim; }
  setThreads(n: number): void { this.threads = n; }
  getThreads(): number { return this.threads; }
}

function scheduler(ctx: FakeContext, options: Partial<SchedulerOptions> = {}, samplers: FakeSampler[] = []): Scheduler {
  return new Scheduler(
    ctx,
    {
      detokenize: (t) => String.fromCharCode(...t),
      isEog: (t) => t === EOG,
      eogTokens: [EOG],
      createSampler: () => { const sampler = new FakeSampler(); samplers.push(sampler); return sampler; },
      createGrammarState: (g) => { if ((g as unknown) === "bad") throw new Error("bad grammar"); return { grammar: g }; },
      setAdapter: (a) => ctx.adapterChanges.push({ adapter: a?.id ?? "", beforeBatch: ctx.batches.length }),
    },
    { parallel: 4, contextSize: 256, batchSize: 64, maxQueue: 8, threads: new FixedThreads(1, "test"), ...options },
  );
}

function request(prompt: number[], extra: Partial<GenerationRequest> = {}): GenerationRequest {
  return {
    promptTokens: prompt,
    sampling: { temperature: 0, topP: 1, topK: -1, minP: 0, seed: 1, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0 },
    maxTokens: 8, minTokens: 0, ignoreEos: false, stop: [], ...extra,
  };
}

const range = (n: number, from = 1) => Array.from({ length: n }, (_, i) => from + i);

describe("scheduler", () => {
  it("admits a new request into the running batch at the next step (continuous batching)", async () => {
    const ctx = new FakeContext();
    const s = scheduler(ctx);
    const a = s.generate(request(range(5), { maxTokens: 12 }));
    const it = a[Symbol.asyncIterator]();
    await it.next();
    await it.next();
    const stepsBeforeB = ctx.batches.length;
    const b = s.generate(request(range(7, 50), { maxTokens: 3 }));
    const [ra, rb] = await Promise.all([a.result, b.result]);
    assert.equal(ra.completionTokens, 12);
    assert.equal(rb.completionTokens, 3);
    // The step after B arrived decodes A's next token and B's whole prompt together.
    const next = ctx.batches[stepsBeforeB]!;
    assert.deepEqual(next.map((e) => [e.seq, e.tokens.length]), [[0, 1], [1, 7]]);
    // A got a token in every step until it finished: nobody waited for a batch to drain.
    const aSteps = ctx.batches.filter((b) => b.some((e) => e.seq === 0));
    assert.equal(aSteps.length, 12);
  });

  it("puts sequences in ascending id order and keeps prefill within the token budget", async () => {
    const ctx = new FakeContext();
    const s = scheduler(ctx, { batchSize: 16 });
    const results = await Promise.all([range(40), range(30, 100), range(3, 200)].map((p) => s.generate(request(p, { maxTokens: 4 })).result));
    assert.deepEqual(results.map((r) => r.completionTokens), [4, 4, 4]);
    for (const batch of ctx.batches) {
      const seqs = batch.map((e) => e.seq);
      assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y));
      assert.ok(batch.reduce((n, e) => n + e.tokens.length, 0) <= 16);
    }
    // Positions of each sequence are contiguous from 0.
    const next = new Map<number, number>();
    for (const e of ctx.batches.flat()) {
      assert.equal(e.pos, next.get(e.seq) ?? 0);
      next.set(e.seq, e.pos + e.tokens.length);
    }
  });

  it("reuses the longest cached prefix and evaluates only the rest", async () => {
    const ctx = new FakeContext();
    const s = scheduler(ctx);
    const first = await s.generate(request(range(20), { maxTokens: 4 })).result;
    assert.equal(first.cachedTokens, 0);
    // An unrelated request in between takes another free sequence, not the one holding the cache.
    await s.generate(request(range(6, 300), { maxTokens: 2 })).result;
    const before = ctx.batches.length;
    const second = await s.generate(request([...range(20), 65, 66, 67, 5, 6], { maxTokens: 2 })).result;
    // Sequence 0 held the 20 prompt tokens plus the 3 generated tokens that were decoded (A, B, C).
    assert.equal(second.cachedTokens, 23);
    const firstStep = ctx.batches[before]!;
    assert.equal(firstStep.length, 1);
    assert.equal(firstStep[0]!.pos, second.cachedTokens);
    assert.equal(firstStep[0]!.seq, 0);
    assert.equal(firstStep[0]!.tokens.length, 2);
  });

  it("re-evaluates one token when the whole prompt is cached", async () => {
    const ctx = new FakeContext();
    const s = scheduler(ctx);
    await s.generate(request(range(10), { maxTokens: 1 })).result;
    const r = await s.generate(request(range(10), { maxTokens: 1 })).result;
    assert.equal(r.cachedTokens, 9);
    assert.deepEqual(ctx.removed.at(-1), [0, 9, -1]);
  });

  it("suppresses end-of-generation until min_tokens, then stops on it", async () => {
    const ctx = new FakeContext(2);
    const s = scheduler(ctx);
    const plain = await s.generate(request(range(4), { maxTokens: 20 })).result;
    assert.equal(plain.finishReason, "stop");
    assert.equal(plain.completionTokens, 2);
    const min = await s.generate(request(range(4, 30), { maxTokens: 20, minTokens: 6 })).result;
    assert.equal(min.finishReason, "stop");
    assert.equal(min.completionTokens, 6);
    const ignore = await s.generate(request(range(4, 60), { maxTokens: 9, ignoreEos: true })).result;
    assert.equal(ignore.finishReason, "length");
    assert.equal(ignore.completionTokens, 9);
  });

  it("configures the sampler with every sampling setting of the request", async () => {
    const samplers: FakeSampler[] = [];
    const s = scheduler(new FakeContext(), { penaltyLastN: 4 }, samplers);
    const sampling = { temperature: 0.7, topP: 0.9, topK: 20, minP: 0.05, seed: -1, repetitionPenalty: 1.3, presencePenalty: 0.5, frequencyPenalty: 0.25 };
    await s.generate(request(range(6), { sampling, maxTokens: 2 })).result;
    const config = samplers[0]!.config;
    assert.deepEqual(
      { ...config, repeatPenaltyTokens: [...config.repeatPenaltyTokens!] },
      { temperature: 0.7, topP: 0.9, topK: 20, minP: 0.05, seed: 2 ** 32 - 1, repeatPenalty: 1.3, repeatPenaltyPresencePenalty: 0.5, repeatPenaltyFrequencyPenalty: 0.25, repeatPenaltyMaxTokens: 4, repeatPenaltyTokens: [3, 4, 5, 6] },
    );
    // Neutral settings add no top-k sampler and no penalties.
    await s.generate(request(range(6), { maxTokens: 1 })).result;
    assert.deepEqual(samplers[1]!.config, { temperature: 0, topP: 1, minP: 0, seed: 1 });
    // Each penalty alone turns the penalty stage on.
    for (const [i, extra] of [{ repetitionPenalty: 1.1 }, { presencePenalty: -0.5 }, { frequencyPenalty: 0.1 }].entries()) {
      await s.generate(request(range(3), { maxTokens: 1, sampling: { ...request([]).sampling, ...extra } })).result;
      const c = samplers[2 + i]!.config;
      assert.deepEqual([c.repeatPenalty, c.repeatPenaltyPresencePenalty, c.repeatPenaltyFrequencyPenalty], [extra.repetitionPenalty ?? 1, extra.presencePenalty ?? 0, extra.frequencyPenalty ?? 0]);
      assert.deepEqual([...c.repeatPenaltyTokens!], [1, 2, 3]);
    }
  });

  it("keeps penalties over the prompt and generated tokens when min_tokens is reached, and reads logprobs with a plain greedy sampler", async () => {
    const samplers: FakeSampler[] = [];
    const s = scheduler(new FakeContext(1), { penaltyLastN: 5 }, samplers);
    const sampling = { ...request([]).sampling, temperature: 1, topK: 5, repetitionPenalty: 1.5 };
    const r = await s.generate(request(range(4), { sampling, maxTokens: 10, minTokens: 3, logprobs: { top: 1 } })).result;
    assert.equal(r.completionTokens, 3);
    const [main, raw] = samplers;
    assert.deepEqual(raw!.config, { temperature: 0 });
    // After min_tokens: the end-of-generation ban is gone, the penalty history now ends with "ABC".
    assert.equal(main!.config.topK, 5);
    assert.equal(main!.config.tokenBiasKeys, undefined);
    assert.deepEqual([...main!.config.repeatPenaltyTokens!], [3, 4, 65, 66, 67]);
  });

  it("adds a top-k stage only for top_k > 0, a grammar state only with a grammar, penalty history only with penalties", async () => {
    const samplers: FakeSampler[] = [];
    const s = scheduler(new FakeContext(1), {}, samplers);
    await s.generate(request(range(3), { maxTokens: 1, sampling: { ...request([]).sampling, topK: 0 } })).result;
    assert.equal("topK" in samplers[0]!.config, false);
    await s.generate(request(range(3), { maxTokens: 1, grammar: "g" as never })).result;
    assert.deepEqual(samplers[1]!.config.grammarEvaluationState, { grammar: "g" });
    await s.generate(request(range(3), { maxTokens: 5, minTokens: 2 })).result;
    assert.equal(samplers[2]!.config.repeatPenaltyTokens, undefined, "no penalties: no history after lifting the end-of-generation ban");
  });

  it("fails only the request whose sampler cannot be set up, and frees its sequence", async () => {
    const s = scheduler(new FakeContext(), { parallel: 2 });
    const running = s.generate(request(range(3), { maxTokens: 30 }));
    await running.started;
    await assert.rejects(s.generate(request(range(3), { grammar: "bad" as never })).result, /bad grammar/);
    assert.equal((await running.result).completionTokens, 30, "the request already running is not failed with it");
    assert.equal(s.stats().running, 0);
    assert.equal((await s.generate(request(range(3), { maxTokens: 2 })).result).completionTokens, 2);
  });

  it("prefers the free sequence with the longest cached prefix over the least recently used one", async () => {
    const ctx = new FakeContext();
    const s = scheduler(ctx, { parallel: 2 });
    await s.generate(request(range(10), { maxTokens: 1 })).result; // sequence 0
    await s.generate(request(range(10, 100), { maxTokens: 1 })).result; // sequence 1 (0 was used more recently)
    const before = ctx.batches.length;
    const r = await s.generate(request([...range(10, 100), 7], { maxTokens: 1 })).result;
    assert.equal(r.cachedTokens, 10);
    assert.equal(ctx.batches[before]![0]!.seq, 1);
  });

  it("starts a sequence from scratch when its cache cannot drop the part that differs", async () => {
    const ctx = new FakeContext();
    ctx.canTrim = false;
    const s = scheduler(ctx, { parallel: 1 });
    await s.generate(request(range(10), { maxTokens: 1 })).result;
    const before = ctx.batches.length;
    const r = await s.generate(request([...range(5), 50, 51], { maxTokens: 1 })).result;
    assert.equal(r.cachedTokens, 0);
    assert.deepEqual(ctx.batches[before]![0], { seq: 0, pos: 0, tokens: [...range(5), 50, 51] });
    assert.deepEqual(ctx.removed.at(-1), [0, 0, -1]);
  });

  it("keeps the request's logit bias while and after suppressing end-of-generation", async () => {
    const ctx = new FakeContext(1);
    const s = scheduler(ctx);
    const r = await s.generate(request(range(4), { maxTokens: 6, minTokens: 3, logitBias: new Map([[66, 100]]) })).result;
    assert.equal(r.text, "BBBBBB");
    assert.equal(r.finishReason, "length");
  });

  it("reports each generated token's logprob and alternatives when asked", async () => {
    const s = scheduler(new FakeContext());
    const g = s.generate(request(range(3), { maxTokens: 3, logprobs: { top: 2 } }));
    const pieces = [];
    for await (const p of g) pieces.push(p);
    const r = await g.result;
    assert.equal(r.text, "ABC");
    assert.equal(r.logprobs!.length, 3);
    assert.deepEqual(pieces.flatMap((p) => p.logprobs ?? []), r.logprobs);
    const [a, b, c] = r.logprobs!;
    assert.equal(a!.text, "A");
    assert.equal(a!.logprob, Math.log(0.5));
    assert.equal(b!.logprob, Math.log(0.3));
    assert.equal(c!.logprob, Math.log(0.2));
    assert.deepEqual(a!.top.map((t) => [t.text, t.logprob]), [["A", Math.log(0.5)], ["B", Math.log(0.3)]]);
    const plain = await s.generate(request(range(3), { maxTokens: 2 })).result;
    assert.equal(plain.logprobs, undefined);
  });

  it("cancels at the next step and frees the sequence", async () => {
    const ctx = new FakeContext();
    const s = scheduler(ctx, { parallel: 1 });
    const controller = new AbortController();
    const g = s.generate(request(range(4), { maxTokens: 1000, signal: controller.signal }));
    const it = g[Symbol.asyncIterator]();
    await it.next();
    controller.abort();
    const r = await g.result;
    assert.equal(r.finishReason, "abort");
    assert.ok(r.completionTokens < 10);
    assert.equal(s.stats().running, 0);
    const next = await s.generate(request(range(3, 40), { maxTokens: 2 })).result;
    assert.equal(next.completionTokens, 2);
  });

  it("prefills prompts that arrive together in one step until step costs are measured", async () => {
    const ctx = new FakeContext();
    const s = scheduler(ctx);
    const a = s.generate(request(range(5), { maxTokens: 10 }));
    const it = a[Symbol.asyncIterator]();
    await it.next();
    const before = ctx.batches.length;
    await Promise.all([a.result, ...[range(10, 100), range(12, 200), range(14, 300)].map((p) => s.generate(request(p, { maxTokens: 2 })).result)]);
    assert.deepEqual(ctx.batches[before]!.map((e) => [e.seq, e.tokens.length]), [[0, 1], [1, 10], [2, 12], [3, 14]]);
  });

  it("prefills one prompt per step, in admission order, where batching prompts does not pay", async () => {
    const ctx = new FakeContext();
    const asked: number[] = [];
    // Prefill costs more per prompt than a whole step (attention over a long prefix on a CPU).
    const pacing = { prefillMsPerToken: 0.9, record: () => {}, joins: (tokens: number) => { asked.push(tokens); return false; } };
    const s = scheduler(ctx, { pacing });
    const a = s.generate(request(range(5), { maxTokens: 10 }));
    const it = a[Symbol.asyncIterator]();
    await it.next();
    const before = ctx.batches.length;
    const late = [range(20, 100), range(12, 200), range(30, 300)].map((p) => s.generate(request(p, { maxTokens: 3 })).result);
    await Promise.all([a.result, ...late]);
    const steps = ctx.batches.slice(before, before + 3).map((b) => b.filter((e) => e.tokens.length > 1).map((e) => [e.seq, e.tokens.length]));
    // Admitted onto sequences 1, 2, 3 in arrival order: one prompt a step, A decoding in each.
    assert.deepEqual(steps, [[[1, 20]], [[2, 12]], [[3, 30]]]);
    for (const b of ctx.batches.slice(before, before + 3)) assert.ok(b.some((e) => e.seq === 0 && e.tokens.length === 1));
    assert.deepEqual(asked.slice(0, 2), [12, 30]);
  });

  it("bounds waiting requests by free sequences plus maxQueue, rejecting at once", () => {
    const s = scheduler(new FakeContext(), { parallel: 1, maxQueue: 1 });
    s.generate(request(range(4), { maxTokens: 50 }));
    s.generate(request(range(4), { maxTokens: 50 }));
    assert.throws(() => s.generate(request(range(4))), QueueFullError);
    s.abortAll("test over");
  });

  it("cuts text at a stop string spanning tokens", async () => {
    const s = scheduler(new FakeContext());
    const r = await s.generate(request(range(3), { maxTokens: 20, stop: ["DE"] })).result;
    assert.equal(r.text, "ABC");
    assert.equal(r.finishReason, "stop");
  });

  it("never puts sequences of different LoRA adapters in one step, and they take turns", async () => {
    const ctx = new FakeContext();
    const s = scheduler(ctx);
    const a = { id: "/a.gguf" };
    const b = { id: "/b.gguf" };
    const runs = [request(range(3), { maxTokens: 6 }), request(range(3), { maxTokens: 6, adapter: a }), request(range(3), { maxTokens: 6, adapter: b }), request(range(3), { maxTokens: 6, adapter: a })].map((r) => s.generate(r).result);
    const results = await Promise.all(runs);
    for (const r of results) assert.equal(r.text, "ABCDEF");
    // Which adapter each batch ran under: the last change before it.
    const adapterOf = (batch: number) => [...ctx.adapterChanges].reverse().find((c) => c.beforeBatch <= batch)?.adapter ?? "";
    const owner = new Map<number, string>([[0, ""], [1, "/a.gguf"], [2, "/b.gguf"], [3, "/a.gguf"]]);
    ctx.batches.forEach((batch, i) => {
      for (const e of batch) assert.equal(owner.get(e.seq), adapterOf(i), `batch ${i} has sequence ${e.seq} under adapter "${adapterOf(i)}"`);
    });
    // Both requests of adapter a share steps; the three adapters alternate rather than run one after another.
    assert.ok(ctx.batches.some((b) => b.length === 2), "a's two sequences decode together");
    const order = ctx.batches.slice(0, 6).map((_, i) => adapterOf(i));
    assert.deepEqual(new Set(order.slice(0, 3)), new Set(["", "/a.gguf", "/b.gguf"]));
  });

  it("reuses a cached prefix only under the same adapter", async () => {
    const ctx = new FakeContext();
    const s = scheduler(ctx, { parallel: 1 });
    await s.generate(request(range(10), { maxTokens: 1 })).result;
    await s.generate(request(range(10), { maxTokens: 1, adapter: { id: "/a.gguf" } })).result;
    const third = await s.generate(request(range(10), { maxTokens: 1, adapter: { id: "/a.gguf" } })).result;
    assert.equal(ctx.batches[1]![0]!.pos, 0, "no reuse across adapters");
    assert.equal(third.cachedTokens, 9);
  });

  it("serves waiting clients in turns: one client's deep queue does not hold back another's request", async () => {
    const ctx = new FakeContext();
    const s = scheduler(ctx, { parallel: 1, maxQueue: 64 });
    const order: string[] = [];
    const run = (client: string, i: number) => s.generate(request(range(3), { maxTokens: 2, client })).result.then(() => order.push(`${client}${i}`));
    const noisy = Array.from({ length: 20 }, (_, i) => run("noisy", i));
    const quiet = run("quiet", 0);
    await Promise.all([...noisy, quiet]);
    assert.ok(order.indexOf("quiet0") <= 2, `quiet finished at position ${order.indexOf("quiet0")} of ${order.join(" ")}`);
  });

  it("fails a request that waits longer than the queue timeout, and drops aborted waiters at once", async () => {
    const ctx = new FakeContext();
    const s = scheduler(ctx, { parallel: 1, queueTimeoutMs: 30, contextSize: 10_000_000 });
    const long = s.generate(request(range(3), { maxTokens: 10_000_000 }));
    const waiting = s.generate(request(range(3), { maxTokens: 2 }));
    await assert.rejects(waiting.started, QueueTimeoutError);
    await assert.rejects(waiting.result, QueueTimeoutError);
    const controller = new AbortController();
    const abandoned = s.generate(request(range(3), { maxTokens: 2, signal: controller.signal }));
    controller.abort();
    assert.equal((await abandoned.result).finishReason, "abort");
    assert.equal(s.stats().waiting, 0);
    s.abortAll("test over");
    await long.result.catch(() => {});
  });
});

describe("FairQueue", () => {
  it("round-robins across keys, FIFO within a key", () => {
    const q = new FairQueue<string>();
    for (const item of ["a1", "a2", "a3", "b1", "c1", "b2"]) q.push(item[0]!, item);
    const out: string[] = [];
    for (let x = q.shift(); x !== undefined; x = q.shift()) out.push(x);
    assert.deepEqual(out, ["a1", "b1", "c1", "a2", "b2", "a3"]);
    assert.equal(q.length, 0);
  });

  it("counts the waiting items per key", () => {
    const q = new FairQueue<string>();
    assert.deepEqual(q.counts(), new Map());
    for (const item of ["a1", "a2", "b1"]) q.push(item[0]!, item);
    assert.deepEqual(q.counts(), new Map([["a", 2], ["b", 1]]));
    q.shift();
    q.shift();
    assert.deepEqual(q.counts(), new Map([["a", 1]]));
  });

  it("removes items anywhere, keeping the turns of the rest", () => {
    const q = new FairQueue<string>();
    for (const item of ["a1", "a2", "b1", "c1"]) q.push(item[0]!, item);
    assert.deepEqual(q.removeWhere((x) => x === "a1" || x === "b1"), ["a1", "b1"]);
    assert.equal(q.length, 2);
    assert.deepEqual([q.shift(), q.shift(), q.shift()], ["a2", "c1", undefined]);
  });
});
