/**
 * Downloads one model file over HTTP(S): written under `<dest>.part` and renamed only when complete,
 * of the announced size and (where the source publishes one) of the announced sha256, so a partial
 * or corrupt file is never served. An interrupted download is resumed with an HTTP Range request,
 * in the same run (a few retries) or the next one (the `.part` file and what it expects are kept).
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";

export interface DownloadProgress {
  /** Which file (the store-relative name shown to the user). */
  file: string;
  received: number;
  total: number | undefined;
  /** Bytes already on disk when this attempt started (a resumed download). */
  resumedFrom: number;
  /** A local file copied into the store rather than downloaded. */
  copy?: boolean;
}

export interface DownloadOptions {
  headers?: Record<string, string>;
  /** Expected size and sha256 (e.g. from the Hub's file listing); the server's own announcements are checked too. */
  expectedSize?: number;
  expectedSha256?: string;
  /** Name used in progress reports and messages (default: the URL's last segment). */
  label?: string;
  onProgress?: (p: DownloadProgress) => void;
  /** Told when a download resumes or retries. */
  onNotice?: (message: string) => void;
  signal?: AbortSignal;
  /** Attempts after an interrupted transfer in the same run (each resumes where the last stopped). Default 3. */
  retries?: number;
  retryDelayMs?: number;
}

export interface DownloadResult {
  size: number;
  sha256: string;
  /** Whether the server published the sha256 that was checked. */
  sha256Verified: boolean;
  /** Bytes that were already on disk from an earlier, interrupted download. */
  resumedFrom: number;
}

export class DownloadError extends Error {
  override name = "DownloadError";
}

/** What a source announced about a file, kept next to the `.part` file so a resume can check it is the same file. */
interface PartInfo {
  url: string;
  size?: number;
  sha256?: string;
}

/** The Hub answers a file URL with a redirect to its CDN and puts the LFS file's sha256 and size on that redirect. */
export interface LinkedFileHeaders {
  sha256?: string;
  size?: number;
}

export async function fileExists(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

const SHA256 = /^[0-9a-f]{64}$/;

/** Reads `x-linked-etag` (a quoted sha256 for LFS files) and `x-linked-size`, as huggingface_hub does. */
export function linkedFileHeaders(headers: Headers): LinkedFileHeaders {
  const out: LinkedFileHeaders = {};
  const etag = headers.get("x-linked-etag")?.replace(/^W\//, "").replace(/"/g, "").toLowerCase();
  if (etag && SHA256.test(etag)) out.sha256 = etag;
  const size = Number(headers.get("x-linked-size") ?? NaN);
  if (Number.isSafeInteger(size) && size >= 0) out.size = size;
  return out;
}

function causeMessage(err: unknown): string {
  const e = err as Error & { cause?: unknown };
  return e.cause instanceof Error ? e.cause.message : e.message;
}

/**
 * GET with redirects followed by hand: headers announced on a redirect (x-linked-*) are kept, and
 * the Authorization header is not sent on to another host.
 */
export async function fetchFollowingRedirects(url: string, init: { headers?: Record<string, string>; signal?: AbortSignal; method?: string }): Promise<{ response: Response; linked: LinkedFileHeaders; url: string }> {
  let current = url;
  let headers = { ...init.headers };
  const linked: LinkedFileHeaders = {};
  for (let hop = 0; hop < 10; hop++) {
    let response: Response;
    try {
      response = await fetch(current, { method: init.method ?? "GET", headers, redirect: "manual", signal: init.signal });
    } catch (err) {
      throw new DownloadError(`cannot reach ${new URL(current).host}: ${causeMessage(err)}`);
    }
    const found = linkedFileHeaders(response.headers);
    linked.sha256 ??= found.sha256;
    linked.size ??= found.size;
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      const next = new URL(location, current);
      if (next.host !== new URL(current).host) {
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== "authorization"));
      }
      current = next.href;
      continue;
    }
    return { response, linked, url: current };
  }
  throw new DownloadError(`too many redirects from ${url}`);
}

/** Explains a failed HTTP answer in one line (401/403 name HF_TOKEN: that is what gated repositories need). */
export function httpFailure(url: string, status: number): DownloadError {
  if (status === 401 || status === 403) return new DownloadError(`access to ${url} was refused (HTTP ${status}); for gated repositories set HF_TOKEN`);
  if (status === 404) return new DownloadError(`${url} was not found (HTTP 404)`);
  return new DownloadError(`downloading ${url} failed with HTTP ${status}`);
}

async function readPartInfo(path: string): Promise<PartInfo | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as PartInfo;
  } catch {
    return undefined;
  }
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

async function discard(tmp: string, infoPath: string): Promise<void> {
  await rm(tmp, { force: true });
  await rm(infoPath, { force: true });
}

/** Downloads `url` to `dest` (see the module comment). */
export async function downloadFile(url: string, dest: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  await mkdir(dirname(dest), { recursive: true });
  const tmp = `${dest}.part`;
  const infoPath = `${dest}.part.json`;
  const label = options.label ?? decodeURIComponent(new URL(url).pathname.split("/").pop() ?? url);
  const retries = options.retries ?? 3;
  let expected: PartInfo = { url, size: options.expectedSize, sha256: options.expectedSha256?.toLowerCase() };

  // A .part file from an earlier run is resumed only if it was fetching the same file.
  const previous = await readPartInfo(infoPath);
  const partSize = await stat(tmp).then((s) => s.size, () => 0);
  const sameFile = previous !== undefined && previous.url === url &&
    (expected.size === undefined || previous.size === undefined || previous.size === expected.size) &&
    (expected.sha256 === undefined || previous.sha256 === undefined || previous.sha256 === expected.sha256);
  if (partSize > 0 && !sameFile) await discard(tmp, infoPath);

  const firstResumedFrom = sameFile ? partSize : 0;
  for (let attempt = 0; ; attempt++) {
    const offset = await stat(tmp).then((s) => s.size, () => 0);
    try {
      await fetchInto(offset);
      break;
    } catch (err) {
      if (!(err instanceof InterruptedTransfer) || attempt >= retries || options.signal?.aborted) {
        if (err instanceof InterruptedTransfer) {
          throw new DownloadError(`download of ${label} was interrupted (${err.message}); run the same command again to resume it`);
        }
        throw err;
      }
      options.onNotice?.(`download of ${label} was interrupted (${err.message}); resuming`);
      await new Promise((r) => setTimeout(r, options.retryDelayMs ?? 1000 * (attempt + 1)));
    }
  }

  // Complete: check what was announced, then publish under the final name.
  const size = (await stat(tmp)).size;
  if (expected.size !== undefined && size !== expected.size) {
    await discard(tmp, infoPath);
    throw new DownloadError(`download of ${label} is incomplete: got ${size} of ${expected.size} bytes`);
  }
  const hash = createHash("sha256");
  await hashFile(tmp, hash);
  const sha256 = hash.digest("hex");
  if (expected.sha256 !== undefined && sha256 !== expected.sha256) {
    await discard(tmp, infoPath);
    throw new DownloadError(`sha256 mismatch for ${label}: expected ${expected.sha256}, got ${sha256}; the file was deleted`);
  }
  await rename(tmp, dest);
  await rm(infoPath, { force: true });
  return { size, sha256, sha256Verified: expected.sha256 !== undefined, resumedFrom: firstResumedFrom };

  async function fetchInto(offset: number): Promise<void> {
    // Byte ranges and sizes refer to the file itself: ask for it uncompressed.
    const headers: Record<string, string> = { "accept-encoding": "identity", ...options.headers };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    const { response, linked } = await fetchFollowingRedirects(url, { headers, signal: options.signal });
    // Range beyond the end: the part is already whole when its size is what the source says.
    if (response.status === 416 && offset > 0) {
      const total = Number(response.headers.get("content-range")?.split("/")[1] ?? NaN);
      if (total === offset || expected.size === offset || linked.size === offset) return;
      await discard(tmp, infoPath);
      throw new InterruptedTransfer("the server refused to resume; starting over");
    }
    if (!response.ok || !response.body) throw httpFailure(url, response.status);
    expected = checkAnnounced(expected, linked, label);

    let start = 0;
    if (response.status === 206) {
      const m = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(response.headers.get("content-range") ?? "");
      if (!m || Number(m[1]) !== offset) {
        await discard(tmp, infoPath);
        throw new InterruptedTransfer("the server answered a different range; starting over");
      }
      start = offset;
      if (m[2] !== "*") expected = checkAnnounced(expected, { size: Number(m[2]) }, label);
    } else {
      const length = Number(response.headers.get("content-length") ?? NaN);
      const encoded = (response.headers.get("content-encoding") ?? "identity") !== "identity";
      if (Number.isSafeInteger(length) && !encoded) expected = checkAnnounced(expected, { size: length }, label);
    }
    if (offset > 0 && start === 0) options.onNotice?.(`${new URL(url).host} cannot resume ${label}; downloading it again from the start`);
    else if (start > 0) options.onNotice?.(`resuming ${label} at ${start} bytes`);
    await writeFile(infoPath, JSON.stringify(expected));

    let received = start;
    const report = () => options.onProgress?.({ file: label, received, total: expected.size, resumedFrom: start });
    report();
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        received += chunk.length;
        report();
        done(null, chunk);
      },
    });
    const file = await open(tmp, start > 0 ? "a" : "w");
    try {
      await pipeline(Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>), counter, createWriteStream("", { fd: file.fd, autoClose: false }));
    } catch (err) {
      if (options.signal?.aborted) throw new DownloadError(`download of ${label} was cancelled`);
      throw new InterruptedTransfer(causeMessage(err));
    } finally {
      await file.close();
    }
    if (expected.size !== undefined && received < expected.size) throw new InterruptedTransfer(`got ${received} of ${expected.size} bytes`);
  }
}

class InterruptedTransfer extends Error {}

/** Merges what a response announced into what is expected; a contradiction (another file changed under the same URL) is an error. */
function checkAnnounced(expected: PartInfo, announced: LinkedFileHeaders, label: string): PartInfo {
  if (announced.size !== undefined && expected.size !== undefined && announced.size !== expected.size) {
    throw new DownloadError(`size mismatch for ${label}: expected ${expected.size} bytes, the server announces ${announced.size}`);
  }
  if (announced.sha256 !== undefined && expected.sha256 !== undefined && announced.sha256 !== expected.sha256) {
    throw new DownloadError(`sha256 mismatch for ${label}: expected ${expected.sha256}, the server announces ${announced.sha256}`);
  }
  return { ...expected, size: expected.size ?? announced.size, sha256: expected.sha256 ?? announced.sha256 };
}
