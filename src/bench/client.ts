/**
 * One streaming request to an OpenAI-compatible server (`/v1/chat/completions` or `/v1/completions`),
 * timed: TTFT (send → first chunk carrying content), end-to-end, output tokens. Never throws and never
 * hangs (per-request timeout): HTTP errors, refused connections, non-streaming answers and malformed
 * SSE come back as `ok: false` with an error kind that results count by.
 */

export type Endpoint = "chat" | "completions";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** What to send; the workload decides. */
export interface RequestSpec {
  messages: ChatMessage[];
  maxTokens: number;
  ignoreEos: boolean;
}

/** Where to send it. */
export interface Target {
  label: string;
  /** Base URL without `/v1`. */
  baseUrl: string;
  model: string;
  apiKey?: string;
  endpoint: Endpoint;
  timeoutMs: number;
  temperature: number;
  /** Extra body fields for this server (e.g. llama-server's logit_bias, see quirks.ts). */
  extraBody?: Record<string, unknown>;
}

export interface RequestResult {
  ok: boolean;
  /** A short class of failure results are counted by: "HTTP 500", "timeout", "connection", "malformed SSE", "not streaming", ... */
  errorKind?: string;
  error?: string;
  /** performance.now() when sent and when the response ended. */
  sentAt: number;
  endedAt: number;
  ttftMs?: number;
  e2eMs: number;
  outputTokens: number;
  /** Where `outputTokens` came from: the server's `usage.completion_tokens`, or the count of content chunks. */
  tokenSource: "usage" | "chunks";
  promptTokens?: number;
  cachedTokens?: number;
  /** The generated text (multi-turn workloads send it back as the assistant's message). */
  text: string;
}

/** Messages as one completion prompt: plain contents when there is no dialogue, else "Role: content" lines. */
export function messagesToPrompt(messages: ChatMessage[]): string {
  if (!messages.some((m) => m.role === "assistant")) return messages.map((m) => m.content).join("\n\n");
  const name = { system: "System", user: "User", assistant: "Assistant" } as const;
  return `${messages.map((m) => `${name[m.role]}: ${m.content}`).join("\n\n")}\n\nAssistant:`;
}

interface StreamChunk {
  choices?: { text?: string | null; delta?: { content?: string | null; reasoning_content?: string | null } | null }[];
  usage?: { completion_tokens?: number; prompt_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } | null } | null;
  error?: unknown;
}

class RequestFailure extends Error {
  constructor(readonly kind: string, message: string) { super(message); }
}

/** Sends one streaming request and times it. */
export async function sendRequest(target: Target, spec: RequestSpec): Promise<RequestResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new RequestFailure("timeout", `timed out after ${target.timeoutMs} ms`)), target.timeoutMs);
  const chat = target.endpoint === "chat";
  const body = {
    ...target.extraBody,
    model: target.model,
    ...(chat ? { messages: spec.messages } : { prompt: messagesToPrompt(spec.messages) }),
    max_tokens: spec.maxTokens,
    ...(spec.ignoreEos ? { ignore_eos: true } : {}),
    temperature: target.temperature,
    stream: true,
    stream_options: { include_usage: true },
  };
  const sentAt = performance.now();
  let ttftMs: number | undefined;
  let usageTokens: number | undefined;
  let promptTokens: number | undefined;
  let cachedTokens: number | undefined;
  let chunks = 0;
  let text = "";
  const result = (ok: boolean, endedAt: number, failure?: RequestFailure): RequestResult => ({
    ok, sentAt, endedAt, ttftMs, e2eMs: endedAt - sentAt,
    outputTokens: ok ? usageTokens ?? chunks : 0, tokenSource: usageTokens !== undefined ? "usage" : "chunks",
    promptTokens, cachedTokens, text,
    ...(failure ? { errorKind: failure.kind, error: failure.message } : {}),
  });
  try {
    const res = await fetch(`${target.baseUrl}/v1/${chat ? "chat/completions" : "completions"}`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream", ...(target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {}) },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    if (!res.ok || !res.body) {
      const detail = (await res.text().catch(() => "")).replace(/\s+/g, " ").slice(0, 200);
      throw new RequestFailure(`HTTP ${res.status}`, `HTTP ${res.status}: ${detail}`);
    }
    const type = res.headers.get("content-type") ?? "";
    if (!type.includes("text/event-stream")) {
      await res.body.cancel().catch(() => undefined);
      throw new RequestFailure("not streaming", `the server answered ${type || "without a content type"} instead of an SSE stream (text/event-stream): does it support "stream": true?`);
    }
    const decoder = new TextDecoder();
    let buffer = "";
    let done = false;
    let endedAt = 0;
    const handleLine = (rawLine: string): void => {
      const line = rawLine.endsWith("\r") ? rawLine.slice(0, -1) : rawLine;
      if (!line.startsWith("data:")) return; // comments, event:, id:, blank separators
      const payload = line.slice(5).trim();
      if (payload === "[DONE]") { done = true; endedAt = performance.now(); return; }
      let chunk: StreamChunk;
      try { chunk = JSON.parse(payload) as StreamChunk; } catch { throw new RequestFailure("malformed SSE", `malformed SSE data (not JSON): ${payload.slice(0, 100)}`); }
      if (chunk === null || typeof chunk !== "object") throw new RequestFailure("malformed SSE", `malformed SSE data: ${payload.slice(0, 100)}`);
      if (chunk.error !== undefined) throw new RequestFailure("stream error", `error in the stream: ${JSON.stringify(chunk.error).slice(0, 200)}`);
      const choice = chunk.choices?.[0];
      const piece = chat ? (choice?.delta?.content ?? "") + (choice?.delta?.reasoning_content ?? "") : choice?.text ?? "";
      if (typeof piece === "string" && piece.length > 0) {
        chunks++;
        text += piece;
        ttftMs ??= performance.now() - sentAt;
      }
      if (chunk.usage && typeof chunk.usage.completion_tokens === "number") {
        usageTokens = chunk.usage.completion_tokens;
        if (typeof chunk.usage.prompt_tokens === "number") promptTokens = chunk.usage.prompt_tokens;
        const cached = chunk.usage.prompt_tokens_details?.cached_tokens;
        if (typeof cached === "number") cachedTokens = cached;
      }
    };
    for await (const bytes of res.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(bytes, { stream: true });
      let nl: number;
      while (!done && (nl = buffer.indexOf("\n")) >= 0) {
        handleLine(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
      if (done) break; // leaving the loop cancels the rest of the body
    }
    if (!done && buffer.length > 0) handleLine(buffer);
    if (!done) throw new RequestFailure("incomplete stream", "the stream ended without data: [DONE]");
    if (ttftMs === undefined) throw new RequestFailure("no content", "the stream carried no content");
    return result(true, endedAt);
  } catch (err) {
    const reason = controller.signal.aborted ? controller.signal.reason : err;
    if (reason instanceof RequestFailure) return result(false, performance.now(), reason);
    const cause = (reason as { cause?: { code?: string; message?: string } })?.cause;
    const code = cause?.code ?? "";
    const kind = /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|EHOSTUNREACH|UND_ERR_SOCKET/.test(code) ? "connection" : "network";
    const detail = cause ? ` (${cause.code ?? cause.message ?? String(cause)})` : "";
    return result(false, performance.now(), new RequestFailure(kind, `${(reason as Error)?.message ?? String(reason)}${detail}`));
  } finally {
    clearTimeout(timer);
  }
}
