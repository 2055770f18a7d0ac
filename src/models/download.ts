/**
 * Downloads a model file over HTTP(S) into the store: written under a temporary name and renamed
 * only when complete and of the announced size, so a partial file is never served.
 */
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export interface DownloadProgress {
  received: number;
  total: number | undefined;
}

export interface DownloadOptions {
  headers?: Record<string, string>;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
}

export class DownloadError extends Error {
  override name = "DownloadError";
}

export async function fileExists(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isFile(), () => false);
}

export async function downloadFile(url: string, dest: string, options: DownloadOptions = {}): Promise<void> {
  await mkdir(dirname(dest), { recursive: true });
  let response: Response;
  try {
    response = await fetch(url, { headers: options.headers, redirect: "follow", signal: options.signal });
  } catch (err) {
    throw new DownloadError(`cannot reach ${new URL(url).host}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
  }
  if (response.status === 401 || response.status === 403) {
    throw new DownloadError(`access to ${url} was refused (HTTP ${response.status}); for gated repositories set HF_TOKEN`);
  }
  if (response.status === 404) throw new DownloadError(`${url} was not found (HTTP 404)`);
  if (!response.ok || !response.body) throw new DownloadError(`downloading ${url} failed with HTTP ${response.status}`);
  const length = response.headers.get("content-length");
  const total = length ? Number(length) : undefined;
  const tmp = `${dest}.part`;
  let received = 0;
  const body = Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>);
  body.on("data", (chunk: Buffer) => {
    received += chunk.length;
    options.onProgress?.({ received, total });
  });
  try {
    await pipeline(body, createWriteStream(tmp));
  } catch (err) {
    await rm(tmp, { force: true });
    throw new DownloadError(`download of ${url} was interrupted: ${(err as Error).message}`);
  }
  if (total !== undefined && received !== total) {
    await rm(tmp, { force: true });
    throw new DownloadError(`download of ${url} is incomplete: got ${received} of ${total} bytes`);
  }
  await rename(tmp, dest);
}
