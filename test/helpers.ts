/** Shared test fixtures: a generated tiny model and a real Nimble server on it. */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { createServer, type CreateServerOptions, type NimbleServer } from "../src/nimble.js";
import { generateModel, PRESETS } from "../src/models/generate.js";

let tinyModel: Promise<string> | undefined;

export function tempDir(prefix = "nimble-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** The tiny preset, generated once per test process. */
export function tinyModelPath(): Promise<string> {
  tinyModel ??= (async () => {
    const path = join(tempDir(), "tiny.gguf");
    await generateModel(path, { shape: PRESETS.tiny, seed: 42 });
    return path;
  })();
  return tinyModel;
}

/** Starts a real server on the tiny model on a free port and waits until it is ready. */
export async function startTinyServer(options: CreateServerOptions = {}): Promise<NimbleServer> {
  const server = await createServer({ model: await tinyModelPath(), port: 0, parallel: 4, home: tempDir(), servedModelName: "tiny", logLevel: "error", ...options });
  await server.ready;
  return server;
}

/** Runs a tiny-model server for the tests of one file (started before them, closed after). */
export function useTinyServer(options: CreateServerOptions = {}): { readonly server: NimbleServer; readonly url: string } {
  const tiny = {} as { server: NimbleServer; url: string };
  before(async () => {
    tiny.server = await startTinyServer(options);
    tiny.url = tiny.server.url;
  });
  after(async () => tiny.server.close());
  return tiny;
}

export async function postJson(url: string, body: unknown, init: RequestInit = {}): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body), ...init });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, headers: res.headers, json };
}

/** Reads an SSE response into its data payloads (parsed JSON, and the final "[DONE]"). */
export async function readSse(res: Response): Promise<any[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((f) => f.startsWith("data: "))
    .map((f) => f.slice(6))
    .map((d) => (d === "[DONE]" ? d : JSON.parse(d)));
}

export async function postSse(url: string, body: unknown): Promise<any[]> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...(body as object), stream: true }) });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
  return readSse(res);
}

/** Reads one gauge or counter value from Prometheus text. */
export function metricValue(text: string, name: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line ? Number(line.slice(line.lastIndexOf(" ") + 1)) : undefined;
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("condition not met in time");
}

/**
 * The random byte-level model can emit lone bytes 0x80–0xFF, i.e. invalid UTF-8, which llama.cpp's
 * grammar engine cannot tell from real characters (it does not validate continuation bytes): inside a
 * string such bytes decode to U+FFFD and change its length. Real models emit valid UTF-8; to check
 * lengths exactly, the schema-validating tests ban those byte tokens (logit_bias).
 */
export const NO_STRAY_BYTES = Object.fromEntries(Array.from({ length: 128 }, (_, i) => [String(128 + i), -100]));
