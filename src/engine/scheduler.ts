/**
 * The continuous-batching scheduler. It owns the decode step, as llama.cpp's server does:
 * each step puts every active sequence into one batch (ascending sequence ids, decode tokens
 * plus prefill chunks under a token budget), decodes once, samples every sequence, emits text,
 * and admits waiting requests onto free sequences before the next step.
 */
import { GenerationChannel } from "./channel.js";
import { FairQueue } from "./fair-queue.js";
import type { GreedyToken } from "./greedy.js";
import type { KvTier } from "./kv-tier.js";
import { PrefillPacing } from "./prefill-pacing.js";
import type { NativeContext, NativeSampler, NativeSamplerConfig } from "./native.js";
import { IncrementalDetokenizer, StopMatcher } from "./text-stream.js";
import type { ThreadTuner } from "./threads.js";
import {
  ContextLengthError,
  EngineClosedError,
  QueueFullError,
  QueueTimeoutError,
  type EngineStats,
  type FinishReason,
  type GenerationRequest,
  type GenerationStream,
  type AdapterHandle,
  type PreparedGrammar,
  type TokenLogprob,
} from "./types.js";

/** What the scheduler needs from the model, kept narrow so it can be read (and tested) alone. */
export interface SchedulerModel {
  detokenize(tokens: number[]): string;
  isEog(token: number): boolean;
  /** All end-of-generation token ids (suppressed while min_tokens is not reached). */
  eogTokens: number[];
  createSampler(): NativeSampler;
  /** A fresh native evaluation state of a prepared grammar (one per generation). */
  createGrammarState(grammar: PreparedGrammar): unknown;
  /** Makes the next decode steps use this LoRA adapter (undefined: the base model alone). */
  setAdapter?(adapter: AdapterHandle | undefined): void;
}

export interface SchedulerOptions {
  parallel: number;
  /** Tokens one sequence can hold (prompt + completion). */
  contextSize: number;
  /** Most tokens decoded in one step. */
  batchSize: number;
  maxQueue: number;
  /** Chooses the CPU threads of each decode step (and learns from its timing). */
  threads: ThreadTuner;
  /** Tokens of history the repetition penalties look at. */
  penaltyLastN?: number;
  /** Longest a request may wait for a sequence before failing with QueueTimeoutError (0 = no limit). */
  queueTimeoutMs?: number;
  /** Moves sequences' KV cells (the native addon); without it there are no prefix copies and no KV tier. */
  states?: SequenceStates;
  /** Where reassigned sequences' KV cells are kept for later (see kv-tier.ts). */
  kvTier?: KvTier;
  /** Measures steps and decides how many prompts one step prefills (see prefill-pacing.ts). */
  pacing?: Pick<PrefillPacing, "record" | "joins" | "prefillMsPerToken">;
  /** Greedy sampling on this thread for plain-greedy requests (see greedy.ts); -1: use the sampler. */
  greedy?: GreedyToken;
}

/** Copies of KV cells between sequences, and in and out of host memory. Call only between steps. */
export interface SequenceStates {
  get(sequenceId: number): Buffer;
  /** False when llama.cpp refused the state (the sequence is then empty). */
  set(sequenceId: number, state: Buffer): boolean;
  /** `to` becomes a copy of all of `from`'s cells. */
  copy(from: number, to: number): void;
}

/** Fewest prompt tokens a copy from another sequence must save over prefilling them. */
const MIN_COPY_GAIN = 16;

/** Observes every finished generation (for metrics). */
export interface SchedulerObserver {
  onFinish?(info: { promptTokens: number; completionTokens: number; finishReason: FinishReason | "error"; queuedMs: number; ttftMs?: number; e2eMs: number; tpotMs?: number }): void;
}

interface Job {
  request: GenerationRequest;
  channel: GenerationChannel;
  enqueuedAt: number;
  admittedAt: number;
  firstTokenAt: number;
  slot?: Slot;
  /** Prompt tokens not yet decoded. */
  pending: number[];
  /** Position of the next token to decode in the sequence. */
  nPast: number;
  cachedTokens: number;
  generated: number[];
  text: string;
  sampler?: NativeSampler;
  /** Greedy sampler without settings, used only to read the model's own probabilities (logprobs). */
  rawSampler?: NativeSampler;
  logprobs: TokenLogprob[];
  samplerConfig?: NativeSamplerConfig;
  eogSuppressed: boolean;
  detokenizer: IncrementalDetokenizer;
  stopMatcher: StopMatcher;
  /** Waits (out of the batch) for another sequence to finish prefilling a prefix it shares, then copies it. */
  waitFor?: { donor: Slot; donorJob: Job; length: number };
}

interface Slot {
  id: number;
  /** Tokens whose KV cells this sequence holds, position i at index i. */
  cached: number[];
  /** The adapter those cells were computed with ("" = the base model): a cache is reused only under the same adapter. */
  cachedAdapter: string;
  job?: Job;
  /** When the sequence was last released (a counter; 0 = never used). */
  lastUsed: number;
}

interface BatchItem {
  job: Job;
  /** The job's sequence when the batch was built (the job may be released while it decodes). */
  slot: Slot;
  tokens: number[];
  logitIndex: number;
  wantsLogits: boolean;
}

function commonPrefixLength(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

function adapterKey(job: Job): string {
  return job.request.adapter?.id ?? "";
}

export class Scheduler {
  private readonly slots: Slot[];
  private readonly queue = new FairQueue<Job>();
  private running = 0;
  private closed = false;
  private loopActive = false;
  private idle: Promise<void> = Promise.resolve();
  private resolveIdle: (() => void) | undefined;
  private readonly penaltyLastN: number;
  private readonly releasedSamplers: NativeSampler[] = [];
  private releases = 0;
  /** The adapter the context currently applies ("" = none). */
  private currentAdapter = "";
  /** Step number at which each adapter's sequences last decoded (for taking turns). */
  private readonly adapterTurns = new Map<string, number>();
  private steps = 0;
  /** Prompt tokens decoded (not served from a cache), prefix copies between sequences. */
  private prefilled = 0;
  private prefixCopies = 0;
  private greedySamples = 0;
  /** Measured step costs: prompts per step, and the prefill cost restores are weighed against. */
  private readonly pacing: NonNullable<SchedulerOptions["pacing"]>;

  constructor(
    private readonly ctx: NativeContext,
    private readonly model: SchedulerModel,
    private readonly options: SchedulerOptions,
    private readonly observer: SchedulerObserver = {},
  ) {
    this.slots = Array.from({ length: options.parallel }, (_, id) => ({ id, cached: [], cachedAdapter: "", lastUsed: 0 }));
    this.penaltyLastN = options.penaltyLastN ?? 64;
    this.pacing = options.pacing ?? new PrefillPacing();
  }

  generate(request: GenerationRequest): GenerationStream {
    if (this.closed) throw new EngineClosedError();
    const { contextSize } = this.options;
    if (request.promptTokens.length === 0) throw new Error("The prompt is empty.");
    if (request.promptTokens.length >= contextSize) throw new ContextLengthError(contextSize, request.promptTokens.length);
    // Free sequences take requests at the next step; beyond them, at most maxQueue may wait.
    const freeSequences = Math.max(0, this.options.parallel - this.running);
    if (this.queue.length >= this.options.maxQueue + freeSequences) {
      throw new QueueFullError(this.options.maxQueue);
    }
    const job: Job = {
      request,
      channel: new GenerationChannel(),
      enqueuedAt: performance.now(),
      admittedAt: 0,
      firstTokenAt: 0,
      pending: [],
      nPast: 0,
      cachedTokens: 0,
      generated: [],
      text: "",
      eogSuppressed: false,
      logprobs: [],
      detokenizer: new IncrementalDetokenizer((t) => this.model.detokenize(t)),
      stopMatcher: new StopMatcher(request.stop),
    };
    this.queue.push(request.client ?? "", job);
    this.ensureLoop();
    return job.channel;
  }

  stats(): EngineStats {
    let used = 0;
    for (const s of this.slots) if (s.job) used += s.job.nPast;
    return {
      running: this.running,
      waiting: this.queue.length,
      maxQueue: this.options.maxQueue,
      parallel: this.options.parallel,
      kvCacheUsage: used / (this.options.contextSize * this.options.parallel),
      prefillTokens: this.prefilled,
      prefixCopies: this.prefixCopies,
      greedySamples: this.greedySamples,
      ...(this.options.kvTier?.enabled ? { kvTier: this.options.kvTier.stats() } : {}),
    };
  }

  /** Stops accepting requests and resolves once running and queued ones have finished. */
  async drain(): Promise<void> {
    this.closed = true;
    await this.idle;
  }

  /** Aborts everything still running or queued. */
  abortAll(reason: string): void {
    for (const job of this.queue.removeWhere(() => true)) job.channel.fail(new Error(reason));
    for (const slot of this.slots) if (slot.job) this.fail(slot.job, new Error(reason));
  }

  private ensureLoop(): void {
    if (this.loopActive) return;
    this.loopActive = true;
    this.idle = new Promise((resolve) => (this.resolveIdle = resolve));
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      for (;;) {
        try {
          this.admit();
          if (this.running === 0) break;
          await this.step();
        } catch (err) {
          // A bug must not take the server down: fail the running requests and start clean.
          for (const slot of this.slots) {
            if (slot.job) this.fail(slot.job, err);
            this.forgetCache(slot);
          }
        }
        this.disposeReleasedSamplers();
      }
    } finally {
      this.disposeReleasedSamplers();
      this.loopActive = false;
      this.resolveIdle?.();
      // A request may have arrived while the loop was winding down.
      if (this.queue.length > 0) this.ensureLoop();
    }
  }

  /** Ends waiting requests whose client went away or whose wait exceeded the queue timeout. */
  private expireWaiting(): void {
    const timeout = this.options.queueTimeoutMs ?? 0;
    const now = performance.now();
    const expired = this.queue.removeWhere((j) => j.request.signal?.aborted === true || (timeout > 0 && now - j.enqueuedAt > timeout));
    for (const job of expired) {
      if (job.request.signal?.aborted) this.finish(job, "abort");
      else this.fail(job, new QueueTimeoutError(timeout));
    }
  }

  /**
   * Moves waiting requests onto free sequences (clients take turns: see FairQueue), preferring the
   * sequence with the longest cached prefix.
   */
  private admit(): void {
    if (this.queue.length > 0) this.expireWaiting();
    while (this.queue.length > 0) {
      const free = this.slots.filter((s) => !s.job);
      if (free.length === 0) return;
      const job = this.queue.shift()!;
      const prompt = job.request.promptTokens;
      const adapter = adapterKey(job);
      const shared = (s: Slot) => (s.cachedAdapter === adapter ? commonPrefixLength(s.cached, prompt) : 0);
      // Longest shared prefix wins; among equals, the least recently used sequence (its cache is
      // the one least likely to be wanted again, e.g. by the next turn of a conversation).
      let best = free[0]!;
      let bestLen = shared(best);
      for (const s of free.slice(1)) {
        const len = shared(s);
        if (len > bestLen || (len === bestLen && s.lastUsed < best.lastUsed)) { best = s; bestLen = len; }
      }
      // At least one prompt token must be decoded to get logits for the first sampled token.
      const reuse = this.reuseOrRestore(job, best, Math.min(bestLen, prompt.length - 1));
      job.slot = best;
      best.job = job;
      this.running++;
      this.setReused(job, reuse);
      job.admittedAt = performance.now();
      job.channel.markStarted();
      try {
        this.initSampler(job);
      } catch (err) {
        this.fail(job, err);
      }
    }
  }

  /**
   * Gets the most of the prompt into the sequence before prefill: what it already holds, a longer
   * prefix copied from another sequence (now, or once that one has prefilled it: job.waitFor), or
   * one restored from the KV tier. Saves the sequence's own cells to the tier first when they are
   * about to be dropped. Returns the prompt tokens the sequence holds.
   */
  private reuseOrRestore(job: Job, slot: Slot, reuse: number): number {
    const prompt = job.request.promptTokens;
    const adapter = adapterKey(job);
    const { states, kvTier } = this.options;
    const limit = prompt.length - 1;
    // A sequence holding (or prefilling) a longer prefix of this prompt.
    let donor: Slot | undefined;
    let donorLen = 0;
    if (states) {
      for (const s of this.slots) {
        if (!s.job || s === slot || s.job.waitFor || s.cachedAdapter !== adapter) continue;
        const len = Math.min(limit, commonPrefixLength(s.job.request.promptTokens, prompt));
        if (len > donorLen) { donor = s; donorLen = len; }
      }
    }
    const tier = kvTier?.enabled && states ? kvTier.find(prompt, adapter) : undefined;
    const tierLen = Math.min(limit, tier?.length ?? 0);
    const target = Math.max(donorLen, tierLen);
    const improves = target >= reuse + MIN_COPY_GAIN;
    if (kvTier?.enabled && states && slot.cached.length >= kvTier.minTokens && slot.cached.length - (improves ? 0 : reuse) >= kvTier.minTokens
      && !kvTier.covers(slot.cached, slot.cachedAdapter)) {
      kvTier.save(slot.cached, slot.cachedAdapter, states.get(slot.id));
    }
    if (improves && donor && donorLen >= tierLen) {
      if (commonPrefixLength(donor.cached, prompt) >= donorLen) return this.copyPrefix(donor, slot, donorLen);
      job.waitFor = { donor, donorJob: donor.job!, length: donorLen };
    } else if (improves && tier && kvTier!.worthRestoring(tier.entry, tierLen - reuse, this.pacing.prefillMsPerToken)) {
      this.forgetCache(slot);
      const restored = kvTier!.restore(tier.entry, (state) => states!.set(slot.id, state));
      if (restored) {
        slot.cached = tier.entry.tokens.slice(0, tierLen);
        slot.cachedAdapter = adapter;
        if (tier.entry.tokens.length > tierLen) this.ctx.removeTokenCellsFromSequence(slot.id, tierLen, -1);
        return tierLen;
      }
      this.forgetCache(slot);
      return 0;
    } else if (kvTier?.enabled && states) {
      kvTier.miss();
    }
    return this.trimCache(slot, reuse, adapter);
  }

  /** Keeps the first `reuse` cells of a sequence, drops the rest. */
  private trimCache(slot: Slot, reuse: number, adapter: string): number {
    if (reuse < slot.cached.length && !this.ctx.removeTokenCellsFromSequence(slot.id, reuse, -1)) {
      // Some caches cannot drop a suffix: start the sequence from scratch.
      this.forgetCache(slot);
      reuse = 0;
    }
    slot.cached.length = reuse;
    slot.cachedAdapter = adapter;
    return reuse;
  }

  /** Makes `to` hold the first `length` cells of `from`. */
  private copyPrefix(from: Slot, to: Slot, length: number): number {
    this.options.states!.copy(from.id, to.id);
    to.cached = from.cached.slice();
    to.cachedAdapter = from.cachedAdapter;
    this.prefixCopies++;
    return this.trimCache(to, length, from.cachedAdapter);
  }

  private setReused(job: Job, reuse: number): void {
    job.nPast = reuse;
    job.cachedTokens = reuse;
    job.pending = job.request.promptTokens.slice(reuse);
  }

  /** Sequences waiting for another's prefix: copy it once it is there, or give up if that one moved on. */
  private resolveWaits(): void {
    for (const slot of this.slots) {
      const job = slot.job;
      const wait = job?.waitFor;
      if (!job || !wait) continue;
      const { donor, donorJob, length } = wait;
      if (commonPrefixLength(donor.cached, job.request.promptTokens) >= length) {
        job.waitFor = undefined;
        this.setReused(job, this.copyPrefix(donor, slot, length));
      } else if (donor.job !== donorJob || donorJob.pending.length === 0) {
        job.waitFor = undefined;
      }
    }
  }

  private initSampler(job: Job): void {
    const s = job.request.sampling;
    const config: NativeSamplerConfig = {
      temperature: s.temperature,
      topP: s.topP,
      minP: s.minP,
      seed: s.seed >>> 0,
    };
    // top_k off: no top-k sampler at all (the binding's "all tokens" variant sorts the whole vocabulary).
    if (s.topK > 0) config.topK = s.topK;
    if (s.repetitionPenalty !== 1 || s.presencePenalty !== 0 || s.frequencyPenalty !== 0) {
      config.repeatPenalty = s.repetitionPenalty;
      config.repeatPenaltyPresencePenalty = s.presencePenalty;
      config.repeatPenaltyFrequencyPenalty = s.frequencyPenalty;
      config.repeatPenaltyMaxTokens = this.penaltyLastN;
      config.repeatPenaltyTokens = Uint32Array.from(job.request.promptTokens.slice(-this.penaltyLastN));
    }
    if (job.request.grammar) config.grammarEvaluationState = this.model.createGrammarState(job.request.grammar);
    job.eogSuppressed = job.request.minTokens > 0 && this.model.eogTokens.length > 0;
    Object.assign(config, this.tokenBias(job));
    job.samplerConfig = config;
    job.sampler = this.model.createSampler();
    job.sampler.applyConfig(config);
    if (job.request.logprobs) {
      job.rawSampler = this.model.createSampler();
      job.rawSampler.applyConfig({ temperature: 0 });
    }
  }

  /** The request's logit bias, plus a ban on end-of-generation tokens while min_tokens is not reached. */
  private tokenBias(job: Job): Pick<NativeSamplerConfig, "tokenBiasKeys" | "tokenBiasValues"> {
    const bias = new Map(job.request.logitBias ?? []);
    if (job.eogSuppressed) for (const t of this.model.eogTokens) bias.set(t, -Infinity);
    if (bias.size === 0) return {};
    return { tokenBiasKeys: Uint32Array.from(bias.keys()), tokenBiasValues: Float32Array.from(bias.values()) };
  }

  /** Lifts the end-of-generation suppression once min_tokens is reached. */
  private liftEogSuppression(job: Job): void {
    job.eogSuppressed = false;
    const config = { ...job.samplerConfig! };
    delete config.tokenBiasKeys;
    delete config.tokenBiasValues;
    Object.assign(config, this.tokenBias(job));
    if (config.repeatPenaltyTokens) {
      const history = [...job.request.promptTokens, ...job.generated];
      config.repeatPenaltyTokens = Uint32Array.from(history.slice(-this.penaltyLastN));
    }
    job.samplerConfig = config;
    job.sampler!.applyConfig(config);
  }

  private async step(): Promise<void> {
    // Cancellation: an aborted request stops here and frees its sequence.
    for (const slot of this.slots) {
      if (slot.job?.request.signal?.aborted) this.finish(slot.job, "abort");
    }
    this.resolveWaits();
    const active = this.adapterTurn(this.slots.filter((s) => s.job && !s.job.waitFor).map((s) => s.job!));
    if (active.length === 0) return;

    // Decode tokens first (one per generating sequence), then prefill chunks under the budget, in
    // admission order: the first prompt always, more only while batching them pays (prefill-pacing.ts).
    let budget = this.options.batchSize;
    const items: BatchItem[] = [];
    const prefilling: Job[] = [];
    for (const job of active) {
      if (job.pending.length === 0) {
        items.push({ job, slot: job.slot!, tokens: [job.generated[job.generated.length - 1]!], logitIndex: -1, wantsLogits: true });
        budget--;
      } else prefilling.push(job);
    }
    prefilling.sort((a, b) => a.admittedAt - b.admittedAt);
    let prompts = 0;
    for (const job of prefilling) {
      if (budget <= 0) break;
      const n = Math.min(budget, job.pending.length);
      if (prompts > 0 && !this.pacing.joins(n)) break;
      items.push({ job, slot: job.slot!, tokens: job.pending.slice(0, n), logitIndex: -1, wantsLogits: n === job.pending.length });
      budget -= n;
      prompts++;
    }
    // Ascending sequence ids: llama.cpp splits a batch into one micro-batch per run of consecutive ids.
    items.sort((a, b) => a.slot.id - b.slot.id);

    const total = items.reduce((n, it) => n + it.tokens.length, 0);
    this.ctx.initBatch(total);
    for (const it of items) {
      const logits = it.wantsLogits ? Uint32Array.of(it.tokens.length - 1) : new Uint32Array(0);
      const indexes = this.ctx.addToBatch(it.slot.id, it.job.nPast, Uint32Array.from(it.tokens), logits);
      if (it.wantsLogits) it.logitIndex = indexes[0]!;
    }
    const threads = this.options.threads.choose(total);
    if (this.ctx.getThreads() !== threads) this.ctx.setThreads(threads);
    const started = performance.now();
    try {
      await this.ctx.decodeBatch();
      const ms = performance.now() - started;
      this.options.threads.record(total, threads, ms);
      const prefill = total - items.reduce((n, it) => n + (it.job.pending.length === 0 ? 1 : 0), 0);
      this.prefilled += prefill;
      this.pacing.record(total, prefill, ms);
    } catch (err) {
      for (const it of items) {
        this.forgetCache(it.slot);
        if (it.job.slot) this.fail(it.job, err);
      }
      return;
    }
    for (const it of items) {
      it.slot.cached.push(...it.tokens);
      it.job.nPast += it.tokens.length;
      if (it.job.pending.length > 0) it.job.pending = it.job.pending.slice(it.tokens.length);
    }

    const sampling = items.filter((it) => it.wantsLogits && it.job.slot !== undefined);
    const greedy = this.options.greedy;
    const results = await Promise.all(
      sampling.map((it) => {
        // Plain greedy, no logprobs: the token straight from the logits row, without a trip to libuv's pool.
        const token = greedy && !it.job.request.logprobs && isPlainGreedy(it.job.samplerConfig!) ? greedy(it.logitIndex) : -1;
        if (token >= 0) {
          this.greedySamples++;
          return [token, undefined];
        }
        return Promise.all([
          this.ctx.sampleToken(it.logitIndex, it.job.sampler!),
          it.job.rawSampler ? this.ctx.sampleToken(it.logitIndex, it.job.rawSampler, true).then((r) => r[1]) : undefined,
        ]).catch((err: unknown) => err);
      }),
    );
    for (let i = 0; i < sampling.length; i++) {
      const job = sampling[i]!.job;
      const result = results[i];
      if (job.slot === undefined) continue; // finished meanwhile (aborted)
      const [token, probabilities] = Array.isArray(result) ? (result as [number, number[] | undefined]) : [undefined, undefined];
      if (token === -1 && job.request.grammar) {
        // The grammar allows nothing more: the output is complete.
        this.finish(job, "stop");
        continue;
      }
      if (typeof token !== "number" || token < 0) {
        this.fail(job, result instanceof Error ? result : new Error("Failed to sample a token"));
        continue;
      }
      this.accept(job, token, probabilities);
    }
  }

  /**
   * A context applies one set of LoRA adapters to a whole decode, so sequences of different
   * adapters never share a step: the adapter whose sequences waited longest takes this one.
   */
  private adapterTurn(active: Job[]): Job[] {
    this.steps++;
    if (active.length === 0) return active;
    let chosen = adapterKey(active[0]!);
    if (active.some((j) => adapterKey(j) !== chosen)) {
      let oldest = Infinity;
      for (const job of active) {
        const key = adapterKey(job);
        const turn = this.adapterTurns.get(key) ?? 0;
        if (turn < oldest) { oldest = turn; chosen = key; }
      }
      active = active.filter((j) => adapterKey(j) === chosen);
    }
    this.adapterTurns.set(chosen, this.steps);
    if (chosen !== this.currentAdapter) {
      this.model.setAdapter?.(active[0]!.request.adapter);
      this.currentAdapter = chosen;
    }
    return active;
  }

  /** The chosen token's log-probability and the top alternatives, from [token, p, token, p, …] sorted by p. */
  private tokenLogprob(token: number, probabilities: number[], top: number): TokenLogprob {
    const logprob = (p: number) => (p > 0 ? Math.log(p) : -9999);
    let chosen = 0;
    for (let i = 0; i < probabilities.length; i += 2) {
      if (probabilities[i] === token) { chosen = probabilities[i + 1]!; break; }
    }
    const alternatives = [];
    for (let i = 0; i < Math.min(top * 2, probabilities.length); i += 2) {
      const t = probabilities[i]!;
      alternatives.push({ token: t, text: this.model.detokenize([t]), logprob: logprob(probabilities[i + 1]!) });
    }
    return { token, text: this.model.detokenize([token]), logprob: logprob(chosen), top: alternatives };
  }

  private accept(job: Job, token: number, probabilities?: number[]): void {
    if (job.generated.length === 0) job.firstTokenAt = performance.now();
    const { request } = job;
    if (!request.ignoreEos && this.model.isEog(token)) {
      this.finish(job, "stop");
      return;
    }
    job.generated.push(token);
    const released = job.stopMatcher.push(job.detokenizer.push(token));
    const entry = probabilities && job.request.logprobs ? this.tokenLogprob(token, probabilities, job.request.logprobs.top) : undefined;
    if (entry) job.logprobs.push(entry);
    this.emit(job, released, entry);
    if (job.stopMatcher.stopped) {
      this.finish(job, "stop");
      return;
    }
    if (job.eogSuppressed && job.generated.length >= request.minTokens) this.liftEogSuppression(job);
    if (job.generated.length >= request.maxTokens || job.nPast + 1 >= this.options.contextSize) {
      this.finish(job, "length");
    }
  }

  private emit(job: Job, text: string, logprob?: TokenLogprob): void {
    job.text += text;
    job.channel.push(text, logprob ? [logprob] : undefined);
  }

  private release(job: Job): void {
    const slot = job.slot;
    if (slot) {
      slot.job = undefined;
      slot.lastUsed = ++this.releases;
      job.slot = undefined;
      this.running--;
    }
    // A sampler may still be in use by a sampling call of the current step: dispose after it.
    for (const sampler of [job.sampler, job.rawSampler]) if (sampler) this.releasedSamplers.push(sampler);
    job.sampler = undefined;
    job.rawSampler = undefined;
  }

  private finish(job: Job, reason: FinishReason): void {
    if (reason !== "abort" && !job.stopMatcher.stopped) {
      this.emit(job, job.stopMatcher.push(job.detokenizer.flush()));
      this.emit(job, job.stopMatcher.flush());
    }
    this.release(job);
    const now = performance.now();
    const admitted = job.admittedAt || now;
    const first = job.firstTokenAt || now;
    const queuedMs = admitted - job.enqueuedAt;
    job.channel.end({
      finishReason: reason,
      ...(job.stopMatcher.matched !== undefined ? { stopSequence: job.stopMatcher.matched } : {}),
      text: job.text,
      promptTokens: job.request.promptTokens.length,
      cachedTokens: job.cachedTokens,
      completionTokens: job.generated.length,
      ...(job.request.logprobs ? { logprobs: job.logprobs } : {}),
      timings: { queuedMs, promptMs: first - admitted, generationMs: now - first },
    });
    this.observer.onFinish?.({
      promptTokens: job.request.promptTokens.length,
      completionTokens: job.generated.length,
      finishReason: reason,
      queuedMs,
      ttftMs: job.firstTokenAt ? job.firstTokenAt - job.enqueuedAt : undefined,
      e2eMs: now - job.enqueuedAt,
      tpotMs: job.generated.length > 1 ? (now - first) / (job.generated.length - 1) : undefined,
    });
  }

  private fail(job: Job, err: unknown): void {
    this.release(job);
    job.channel.fail(err);
    this.observer.onFinish?.({
      promptTokens: job.request.promptTokens.length,
      completionTokens: job.generated.length,
      finishReason: "error",
      queuedMs: (job.admittedAt || performance.now()) - job.enqueuedAt,
      e2eMs: performance.now() - job.enqueuedAt,
    });
  }

  private disposeReleasedSamplers(): void {
    for (const sampler of this.releasedSamplers.splice(0)) sampler.dispose();
  }

  private forgetCache(slot: Slot): void {
    this.ctx.removeTokenCellsFromSequence(slot.id, 0, -1);
    slot.cached.length = 0;
  }
}

/**
 * Whether node-llama-cpp's chain for this config is its greedy sampler alone: temperature 0 (top-k,
 * top-p and min-p are then not in the chain), and no grammar, repetition penalties or token biases.
 */
export function isPlainGreedy(config: NativeSamplerConfig): boolean {
  return config.temperature !== undefined && config.temperature <= 0 && config.grammarEvaluationState === undefined && config.repeatPenalty === undefined
    && (config.tokenBiasKeys === undefined || config.tokenBiasKeys.length === 0);
}
