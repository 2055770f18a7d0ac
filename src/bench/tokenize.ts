/**
 * Counting prompt tokens with the server's own tokenizer: `POST /tokenize` in llama.cpp's shape
 * (`{content}` → `{tokens}`) or vLLM's / Nimble's (`{prompt}` → `{tokens, count}`); without one, a
 * chars/token ratio calibrated from one completion's `usage.prompt_tokens`, else a fixed guess.
 */

/** Counts the tokens of a text. */
export type TokenCounter = (text: string) => Promise<number>;

export interface Sizing {
  counter?: TokenCounter;
  /** Used when there is no counter. */
  charsPerToken: number;
  /** What the sizes rest on, for reports: "tokenize" or "estimate (...)". */
  method: string;
  estimated: boolean;
}

function authHeaders(apiKey?: string): Record<string, string> {
  return { "content-type": "application/json", ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) };
}

/** A counter backed by `POST {baseUrl}/tokenize` in either shape, or undefined when the server has none. */
export async function serverTokenCounter(baseUrl: string, model?: string, apiKey?: string, timeoutMs = 10_000): Promise<TokenCounter | undefined> {
  const attempt = (body: Record<string, unknown>): TokenCounter => async (text) => {
    const res = await fetch(`${baseUrl}/tokenize`, {
      method: "POST", headers: authHeaders(apiKey), body: JSON.stringify({ ...body, ...(body.content !== undefined ? { content: text } : { prompt: text }) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) throw new Error(`POST ${baseUrl}/tokenize: HTTP ${res.status}`);
    const json = (await res.json()) as { tokens?: unknown; count?: unknown };
    if (typeof json.count === "number") return json.count;
    if (Array.isArray(json.tokens)) return json.tokens.length;
    throw new Error(`POST ${baseUrl}/tokenize: neither tokens nor count in the answer`);
  };
  // llama.cpp's shape first (Nimble accepts it too), then vLLM's (which wants the model name).
  for (const counter of [attempt({ content: "" }), attempt({ prompt: "", ...(model ? { model } : {}) })]) {
    try {
      if ((await counter("hello world")) > 0) return counter;
    } catch {
      // try the next shape
    }
  }
  return undefined;
}

/**
 * Characters per token from one non-streaming completion (max_tokens 1) whose `usage.prompt_tokens`
 * the server reports; undefined when it does not.
 */
export async function calibrateCharsPerToken(baseUrl: string, model: string, apiKey: string | undefined, sample: string, timeoutMs = 60_000): Promise<number | undefined> {
  try {
    const res = await fetch(`${baseUrl}/v1/completions`, {
      method: "POST", headers: authHeaders(apiKey),
      body: JSON.stringify({ model, prompt: sample, max_tokens: 1, temperature: 0 }), signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { usage?: { prompt_tokens?: number } };
    const n = body.usage?.prompt_tokens;
    return typeof n === "number" && n > 0 ? sample.length / n : undefined;
  } catch {
    return undefined;
  }
}

/** The best sizing this server allows: its /tokenize, else a usage-calibrated ratio, else 4 chars/token. */
export async function serverSizing(baseUrl: string, model: string, apiKey: string | undefined, sample: string, timeoutMs = 60_000): Promise<Sizing> {
  const counter = await serverTokenCounter(baseUrl, model, apiKey, Math.min(timeoutMs, 10_000));
  if (counter) return { counter, charsPerToken: 4, method: "tokenize", estimated: false };
  const cpt = await calibrateCharsPerToken(baseUrl, model, apiKey, sample, timeoutMs);
  if (cpt) return { charsPerToken: cpt, method: `estimate (${cpt.toFixed(2)} chars/token from usage.prompt_tokens)`, estimated: true };
  return { charsPerToken: 4, method: "estimate (4 chars/token guess)", estimated: true };
}
