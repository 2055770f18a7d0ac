/**
 * Load generator for OpenAI-compatible completion servers (Nimble, llama.cpp's llama-server, ...).
 *
 * `runLevel` keeps exactly `concurrency` streaming `POST /v1/completions` requests in flight until
 * `requests` have finished, timing each one (TTFT, inter-token latency, end-to-end), and returns a
 * summary for the level. Every request has a timeout, so a stuck server yields errors, not a hang.
 */

export interface LevelOptions {
  /** Server base URL, without `/v1` (e.g. http://127.0.0.1:8080). */
  url: string;
  model: string;
  concurrency: number;
  requests: number;
  /** Prompts to send, request i uses prompts[i % prompts.length]. Give `requests` distinct ones to avoid prompt-cache hits. */
  prompts: string[];
  maxTokens: number;
  /** Per-request timeout (whole request, including streaming). */
  timeoutMs: number;
  /** Extra request-body fields for this server (e.g. llama-server's logit_bias, see quirks.ts). */
  extraBody?: Record<string, unknown>;
}

export interface RequestResult {
  ok: boolean;
  error?: string;
  /** Milliseconds from send to the first chunk with non-empty text. */
  ttftMs?: number;
  /** Milliseconds from send to the end of the stream. */
  e2eMs: number;
  outputTokens: number;
  /** Where `outputTokens` came from: the server's `usage.completion_tokens`, or assumed to be max_tokens. */
  tokenSource: "usage" | "max_tokens";
  promptTokens?: number;
  /** Prompt tokens the server says it took from its cache (`usage.prompt_tokens_details.cached_tokens`), when it says. */
  cachedTokens?: number;
  /** Chunks with non-empty text (a lower bound on tokens when the server sends one token per chunk). */
  textChunks: number;
}

export interface LevelResult {
  concurrency: number;
  requests: number;
  errors: number;
  /** First few distinct error messages. */
  errorSamples: string[];
  wallSeconds: number;
  outputTokens: number;
  outputTokensPerSecond: number;
  requestsPerSecond: number;
  ttftMs: { mean: number; p50: number; p90: number; p99: number };
  /** Mean over requests of (e2e - ttft) / (tokens - 1). */
  itlMeanMs: number;
  e2eP50Ms: number;
  /** How many successful requests had their token count from `usage` vs assumed max_tokens. */
  tokenSources: { usage: number; max_tokens: number };
  meanPromptTokens?: number;
  /** Mean `cached_tokens` reported by the server; well above 0 means prompts were served from a cache. */
  meanCachedTokens?: number;
}

/** Linear-interpolated percentile (p in 0..100) of an unsorted list; NaN for an empty one. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const pos = ((s.length - 1) * p) / 100;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export function mean(values: number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

interface StreamChunk {
  choices?: { text?: string | null }[];
  usage?: { completion_tokens?: number; prompt_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } | null } | null;
  error?: unknown;
}

/** Sends one streaming completion and times it. Never throws; failures come back as `ok: false`. */
export async function runRequest(
  url: string, model: string, prompt: string, maxTokens: number, timeoutMs: number, extraBody: Record<string, unknown> = {},
): Promise<RequestResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  const start = performance.now();
  let ttftMs: number | undefined;
  let usageTokens: number | undefined;
  let promptTokens: number | undefined;
  let cachedTokens: number | undefined;
  let textChunks = 0;
  const fail = (error: string): RequestResult => ({
    ok: false, error, ttftMs, e2eMs: performance.now() - start, outputTokens: 0, tokenSource: "max_tokens", textChunks,
  });
  try {
    const res = await fetch(`${url}/v1/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body: JSON.stringify({
        ...extraBody, model, prompt, max_tokens: maxTokens, ignore_eos: true, temperature: 0, stream: true,
        stream_options: { include_usage: true },
      }),
      signal: controller.signal,
    });
    if (!res.ok || !res.body) {
      const text = await res.text().catch(() => "");
      return fail(`HTTP ${res.status}: ${text.slice(0, 200)}`);
    }
    const decoder = new TextDecoder();
    let buffer = "";
    let done = false;
    let endMs = 0;
    const handleLine = (rawLine: string): string | undefined => {
      const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
      if (!line.startsWith("data:")) return undefined; // comments, event:, id:, blank separators
      const payload = line.slice(5).trim();
      if (payload === "[DONE]") { done = true; endMs = performance.now() - start; return undefined; }
      let chunk: StreamChunk;
      try { chunk = JSON.parse(payload) as StreamChunk; } catch { return `bad SSE JSON: ${payload.slice(0, 100)}`; }
      if (chunk.error !== undefined) return `stream error: ${JSON.stringify(chunk.error).slice(0, 200)}`;
      const text = chunk.choices?.[0]?.text;
      if (typeof text === "string" && text.length > 0) {
        textChunks++;
        if (ttftMs === undefined) ttftMs = performance.now() - start;
      }
      if (chunk.usage && typeof chunk.usage.completion_tokens === "number") {
        usageTokens = chunk.usage.completion_tokens;
        if (typeof chunk.usage.prompt_tokens === "number") promptTokens = chunk.usage.prompt_tokens;
        const cached = chunk.usage.prompt_tokens_details?.cached_tokens;
        if (typeof cached === "number") cachedTokens = cached;
      }
      return undefined;
    };
    let streamError: string | undefined;
    for await (const bytes of res.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(bytes, { stream: true });
      let nl: number;
      while (!done && !streamError && (nl = buffer.indexOf("\n")) >= 0) {
        streamError = handleLine(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
      if (done || streamError) break; // leaving the loop cancels the rest of the body
    }
    if (!done && !streamError && buffer.length > 0) streamError = handleLine(buffer);
    if (streamError) return fail(streamError);
    if (!done) return fail("stream ended without data: [DONE]");
    const e2eMs = endMs;
    if (ttftMs === undefined) return fail("no chunk with text");
    const fromUsage = usageTokens !== undefined;
    return {
      ok: true, ttftMs, e2eMs, outputTokens: fromUsage ? usageTokens! : maxTokens,
      tokenSource: fromUsage ? "usage" : "max_tokens", promptTokens, cachedTokens, textChunks,
    };
  } catch (err) {
    const reason = controller.signal.aborted && controller.signal.reason instanceof Error ? controller.signal.reason : err;
    const cause = (reason as { cause?: { code?: string; message?: string } })?.cause;
    const detail = cause ? ` (${cause.code ?? cause.message ?? String(cause)})` : "";
    return fail(`${(reason as Error)?.message ?? String(reason)}${detail}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs one concurrency level: `concurrency` workers each send their next request as soon as the previous ends. */
export async function runLevel(opts: LevelOptions): Promise<LevelResult> {
  if (opts.prompts.length === 0) throw new Error("runLevel: no prompts");
  const results: RequestResult[] = [];
  let next = 0;
  const start = performance.now();
  let lastEnd = start;
  const worker = async () => {
    while (next < opts.requests) {
      const i = next++;
      const r = await runRequest(opts.url, opts.model, opts.prompts[i % opts.prompts.length]!, opts.maxTokens, opts.timeoutMs, opts.extraBody);
      lastEnd = Math.max(lastEnd, performance.now());
      results.push(r);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, opts.requests) }, worker));
  return summarize(opts.concurrency, results, (lastEnd - start) / 1000);
}

export function summarize(concurrency: number, results: RequestResult[], wallSeconds: number): LevelResult {
  const ok = results.filter((r) => r.ok);
  const errors = results.filter((r) => !r.ok);
  const ttfts = ok.map((r) => r.ttftMs!);
  const outputTokens = ok.reduce((a, r) => a + r.outputTokens, 0);
  const itls = ok.filter((r) => r.outputTokens > 1).map((r) => (r.e2eMs - r.ttftMs!) / (r.outputTokens - 1));
  const prompts = ok.filter((r) => r.promptTokens !== undefined).map((r) => r.promptTokens!);
  const cached = ok.filter((r) => r.cachedTokens !== undefined).map((r) => r.cachedTokens!);
  return {
    concurrency,
    requests: results.length,
    errors: errors.length,
    errorSamples: [...new Set(errors.map((r) => r.error ?? "unknown"))].slice(0, 3),
    wallSeconds,
    outputTokens,
    outputTokensPerSecond: wallSeconds > 0 ? outputTokens / wallSeconds : NaN,
    requestsPerSecond: wallSeconds > 0 ? ok.length / wallSeconds : NaN,
    ttftMs: { mean: mean(ttfts), p50: percentile(ttfts, 50), p90: percentile(ttfts, 90), p99: percentile(ttfts, 99) },
    itlMeanMs: mean(itls),
    e2eP50Ms: percentile(ok.map((r) => r.e2eMs), 50),
    tokenSources: { usage: ok.filter((r) => r.tokenSource === "usage").length, max_tokens: ok.filter((r) => r.tokenSource === "max_tokens").length },
    meanPromptTokens: prompts.length > 0 ? mean(prompts) : undefined,
    meanCachedTokens: cached.length > 0 ? mean(cached) : undefined,
  };
}

/** Default requests per level: max(2*c, 8) (so 8 at c=1..4, 32 at c=16). */
export function defaultRequests(concurrency: number): number {
  return Math.max(2 * concurrency, 8);
}

/** The first model id a server lists at GET /v1/models. */
export async function firstModelId(url: string, timeoutMs = 10_000): Promise<string> {
  const res = await fetch(`${url}/v1/models`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url}/v1/models: HTTP ${res.status}`);
  const body = (await res.json()) as { data?: { id?: string }[] };
  const id = body.data?.[0]?.id;
  if (!id) throw new Error(`GET ${url}/v1/models listed no model`);
  return id;
}
