/**
 * Prometheus metrics with NIM's names and buckets, every series labelled `model_name`.
 * One "request" here is one generation (a choice): n=2 counts two.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { EmbeddingBatchStats } from "../../engine/embedding-batch.js";
import type { SchedulerObserver } from "../../engine/scheduler.js";
import type { EngineStats } from "../../engine/types.js";

const TOKEN_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000];

export class Metrics {
  readonly registry = new Registry();
  /** Loaded generation models: their live stats feed the gauges. */
  private readonly engines = new Map<string, () => EngineStats>();
  /** Loaded embedding models: their decode counters. */
  private readonly embedders = new Map<string, () => EmbeddingBatchStats>();

  private readonly promptTokens = new Counter({ name: "prompt_tokens_total", help: "Prompt tokens processed.", labelNames: ["model_name"], registers: [this.registry] });
  private readonly generationTokens = new Counter({ name: "generation_tokens_total", help: "Tokens generated.", labelNames: ["model_name"], registers: [this.registry] });
  private readonly success = new Counter({ name: "request_success_total", help: "Generations that finished (stop or length).", labelNames: ["model_name"], registers: [this.registry] });
  private readonly failure = new Counter({ name: "request_failure_total", help: "Generations that failed with an error.", labelNames: ["model_name"], registers: [this.registry] });
  private readonly finished = new Counter({ name: "request_finish_total", help: "Generations by finish reason (stop, length, abort, error).", labelNames: ["model_name", "finished_reason"], registers: [this.registry] });
  private readonly ttft = new Histogram({ name: "time_to_first_token_seconds", help: "Time from arrival to the first generated token.", labelNames: ["model_name"], buckets: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10], registers: [this.registry] });
  private readonly tpot = new Histogram({ name: "time_per_output_token_seconds", help: "Mean time between generated tokens of a request.", labelNames: ["model_name"], buckets: [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5], registers: [this.registry] });
  private readonly e2e = new Histogram({ name: "e2e_request_latency_seconds", help: "Time from arrival to the end of a generation.", labelNames: ["model_name"], buckets: [1, 2.5, 5, 10, 15, 20, 30, 40, 50, 60], registers: [this.registry] });
  private readonly requestPromptTokens = new Histogram({ name: "request_prompt_tokens", help: "Prompt tokens per request.", labelNames: ["model_name"], buckets: TOKEN_BUCKETS, registers: [this.registry] });
  private readonly requestGenerationTokens = new Histogram({ name: "request_generation_tokens", help: "Generated tokens per request.", labelNames: ["model_name"], buckets: TOKEN_BUCKETS, registers: [this.registry] });
  // Per API key, labelled with the key's name (never the key).
  private readonly keyRequests = new Counter({ name: "api_key_requests_total", help: "Requests admitted per API key.", labelNames: ["key_name"], registers: [this.registry] });
  private readonly keyTokenCount = new Counter({ name: "api_key_tokens_total", help: "Tokens used per API key (kind: prompt or completion).", labelNames: ["key_name", "kind"], registers: [this.registry] });
  private readonly keyRejections = new Counter({ name: "api_key_rate_limited_total", help: "Requests refused per API key, by the limit they hit (requests, tokens, concurrency).", labelNames: ["key_name", "limit"], registers: [this.registry] });

  constructor() {
    const metrics = this;
    // Series that mirror each attached model's live values when scraped (a model gone since drops out).
    const mirror = <S>(metric: typeof Gauge | typeof Counter, sources: Map<string, () => S>, name: string, help: string, read: (s: S) => number) =>
      new metric({
        name,
        help,
        labelNames: ["model_name"],
        registers: [this.registry],
        collect(this: Gauge | Counter) {
          this.reset();
          for (const [model, stats] of sources) {
            if (this instanceof Gauge) this.set({ model_name: model }, read(stats()));
            else this.inc({ model_name: model }, read(stats()));
          }
        },
      });
    const gauge = (name: string, help: string, read: (s: EngineStats) => number) => mirror(Gauge, metrics.engines, name, help, read);
    gauge("num_requests_running", "Requests being generated.", (s) => s.running);
    gauge("num_requests_waiting", "Requests waiting for a free sequence.", (s) => s.waiting);
    gauge("num_request_max", "Requests that can be generated at once.", (s) => s.parallel);
    gauge("gpu_cache_usage_perc", "KV cache in use by running requests (0-1).", (s) => s.kvCacheUsage);
    // The engine counts; the counters mirror it (a reloaded model starts again from 0).
    const engineCounter = (name: string, help: string, read: (s: EngineStats) => number) => mirror(Counter, metrics.engines, name, help, read);
    engineCounter("nimble_prefill_tokens_total", "Prompt tokens decoded (not served from a sequence's cache, a copy or the KV cache tier).", (s) => s.prefillTokens ?? 0);
    engineCounter("nimble_prefix_copies_total", "Prompt prefixes copied from another sequence instead of being prefilled again.", (s) => s.prefixCopies ?? 0);
    engineCounter("nimble_greedy_samples_total", "Tokens of plain-greedy requests picked from the logits on the main thread (no sampler call).", (s) => s.greedySamples ?? 0);
    engineCounter("nimble_kv_cache_misses_total", "Admissions the KV cache tier had no longer prefix for.", (s) => s.kvTier?.misses ?? 0);
    for (const tier of ["ram", "disk"] as const) {
      engineCounter(`nimble_kv_cache_${tier}_hits_total`, `Prompt prefixes restored from the KV cache tier in ${tier}.`, (s) => s.kvTier?.[tier].hits ?? 0);
      engineCounter(`nimble_kv_cache_${tier}_saves_total`, `Sequences saved into the KV cache tier in ${tier}.`, (s) => s.kvTier?.[tier].saves ?? 0);
      engineCounter(`nimble_kv_cache_${tier}_evictions_total`, `Entries evicted from the KV cache tier in ${tier} for room.`, (s) => s.kvTier?.[tier].evictions ?? 0);
      engineCounter(`nimble_kv_cache_${tier}_rejected_total`, `Entries of the KV cache tier in ${tier} refused (damaged, another model's, or refused by llama.cpp).`, (s) => s.kvTier?.[tier].rejected ?? 0);
      engineCounter(`nimble_kv_cache_${tier}_restored_bytes_total`, `Bytes restored from the KV cache tier in ${tier}.`, (s) => s.kvTier?.[tier].restoredBytes ?? 0);
      engineCounter(`nimble_kv_cache_${tier}_restore_seconds_total`, `Time spent restoring from the KV cache tier in ${tier}.`, (s) => (s.kvTier?.[tier].restoreMs ?? 0) / 1000);
      gauge(`nimble_kv_cache_${tier}_bytes`, `Bytes held by the KV cache tier in ${tier}.`, (s) => s.kvTier?.[tier].bytes ?? 0);
    }
    const embeddingCounter = (name: string, help: string, read: (s: EmbeddingBatchStats) => number) => mirror(Counter, metrics.embedders, name, help, read);
    embeddingCounter("nimble_embedding_decodes_total", "Decodes run on the embedding model (each embeds one or more inputs).", (s) => s.decodes);
    embeddingCounter("nimble_embedding_inputs_total", "Inputs embedded.", (s) => s.inputs);
  }

  /** Reports a loaded embedding model's decode counters. */
  attachEmbedder(modelName: string, stats: () => EmbeddingBatchStats): void {
    this.embedders.set(modelName, stats);
  }

  /** Reports a loaded model's live state (running, waiting, …) in the gauges. */
  attach(modelName: string, stats: () => EngineStats): void {
    this.engines.set(modelName, stats);
  }

  detach(modelName: string): void {
    this.engines.delete(modelName);
    this.embedders.delete(modelName);
  }

  /** Counts and times one model's finished generations. */
  observerFor(modelName: string): SchedulerObserver {
    return {
      onFinish: (f) => {
        const labels = { model_name: modelName };
        this.promptTokens.inc(labels, f.promptTokens);
        this.generationTokens.inc(labels, f.completionTokens);
        this.requestPromptTokens.observe(labels, f.promptTokens);
        this.requestGenerationTokens.observe(labels, f.completionTokens);
        this.finished.inc({ ...labels, finished_reason: f.finishReason });
        if (f.finishReason === "error") this.failure.inc(labels);
        else if (f.finishReason !== "abort") this.success.inc(labels);
        if (f.ttftMs !== undefined) this.ttft.observe(labels, f.ttftMs / 1000);
        if (f.tpotMs !== undefined) this.tpot.observe(labels, f.tpotMs / 1000);
        this.e2e.observe(labels, f.e2eMs / 1000);
      },
    };
  }

  keyRequest(keyName: string): void {
    this.keyRequests.inc({ key_name: keyName });
  }

  keyTokens(keyName: string, prompt: number, completion: number): void {
    this.keyTokenCount.inc({ key_name: keyName, kind: "prompt" }, prompt);
    this.keyTokenCount.inc({ key_name: keyName, kind: "completion" }, completion);
  }

  keyRejected(keyName: string, limit: string): void {
    this.keyRejections.inc({ key_name: keyName, limit });
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
