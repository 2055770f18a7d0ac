/**
 * What a target server says about itself: `GET /v1/models` (required: it proves the server is
 * reachable and gives the default model) and `GET /v1/metadata` (NIM's, when present), for reports.
 */

export interface ServerInfo {
  models?: unknown;
  metadata?: unknown;
  /** The first model id from /v1/models. */
  firstModel?: string;
}

/** Strips a trailing `/` and `/v1` so paths can be appended; rejects what is not an http(s) URL. */
export function baseUrlOf(url: string): string {
  let u: URL;
  try { u = new URL(url); } catch { throw new Error(`not a URL: "${url}" (expected e.g. http://127.0.0.1:8000)`); }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error(`not an http(s) URL: "${url}"`);
  return url.replace(/\/+$/, "").replace(/\/v1$/, "");
}

async function getJson(url: string, apiKey: string | undefined, timeoutMs: number): Promise<{ status: number; json?: unknown }> {
  const res = await fetch(url, { headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {}, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  try { return { status: res.status, json: JSON.parse(text) }; } catch { return { status: res.status }; }
}

/** Probes the server; throws a one-line error when it cannot be reached or has no /v1/models. */
export async function probeServer(baseUrl: string, apiKey?: string, timeoutMs = 10_000): Promise<ServerInfo> {
  let models: { status: number; json?: unknown };
  try {
    models = await getJson(`${baseUrl}/v1/models`, apiKey, timeoutMs);
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.name === "TimeoutError" ? `no answer in ${timeoutMs / 1000} s` : e.cause?.code ?? e.cause?.message ?? e.message;
    throw new Error(`cannot reach ${baseUrl}: ${why}`);
  }
  if (models.status === 401 || models.status === 403) throw new Error(`${baseUrl}/v1/models: HTTP ${models.status} (wrong or missing --api-key?)`);
  if (models.status !== 200) throw new Error(`${baseUrl}/v1/models: HTTP ${models.status} (is this an OpenAI-compatible server?)`);
  const data = (models.json as { data?: { id?: unknown }[] } | undefined)?.data;
  const firstModel = Array.isArray(data) && typeof data[0]?.id === "string" ? data[0].id : undefined;
  let metadata: unknown;
  try {
    const m = await getJson(`${baseUrl}/v1/metadata`, apiKey, timeoutMs);
    if (m.status === 200) metadata = m.json;
  } catch {
    // optional
  }
  return { models: models.json, metadata, firstModel };
}
