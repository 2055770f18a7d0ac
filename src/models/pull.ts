/**
 * Pulling a model into the store: `hf:owner/repo/file.gguf`, `hf:owner/repo:QUANT` (the file is
 * found in the repository's listing), an http(s) URL, or a local file (copied in). What is already
 * in the store is not downloaded again, and offline mode refuses to touch the network.
 * `nimble pull` and `nimble serve --model` both come through here, so they share the store.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, rename, rm, rmdir, stat } from "node:fs/promises";
import { basename, dirname, resolve } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { downloadFile, DownloadError, fileExists, type DownloadOptions, type DownloadProgress } from "./download.js";
import { hubFileUrl, hubSettings, listRepoFiles, ModelRefError, parseModelRef, pickQuant, splitParts, type ModelRef, type RepoFile } from "./hub.js";
import { ModelStore, modelNameOf, type StoredFile, type StoreEntry } from "./store.js";

/** What pull passes through to each download: progress, notices, cancellation, retries. */
export interface PullOptions extends Pick<DownloadOptions, "onProgress" | "onNotice" | "signal" | "retries" | "retryDelayMs"> {
  home: string;
  /** Never use the network (`--offline`, NIMBLE_OFFLINE, NIM_DISABLE_MODEL_DOWNLOAD). */
  offline?: boolean;
  /** HF_ENDPOINT, HF_TOKEN (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface PulledModel {
  entry: StoreEntry;
  /** The file to load (the first part of a split GGUF). */
  path: string;
  /** False when everything was already in the store. */
  downloaded: boolean;
}

export class OfflineError extends Error {
  override name = "OfflineError";
}

/** A file to fetch: where from, where to (store-relative), and what the source says about it. */
interface Planned { url: string; path: string; size?: number; sha256?: string }

export async function pullModel(ref: string, options: PullOptions): Promise<PulledModel> {
  const store = new ModelStore(options.home);
  const parsed = parseModelRef(ref);
  if (parsed.kind === "path") return importLocalFile(store, parsed.path, options);

  // Already pulled through this very reference (a quantization tag needs no listing then).
  const known = await store.findByRef(ref);
  if (known) return { entry: known.entry, path: known.path, downloaded: false };

  const source = canonicalSource(parsed);
  const env = options.env ?? process.env;
  const hub = hubSettings(env);
  let planned: Planned[];
  if (parsed.kind === "hf-quant") {
    refuseOffline(ref, store, options);
    options.onNotice?.(`looking up ${parsed.quant ?? "the default quantization"} in ${parsed.owner}/${parsed.repo}`);
    const files = await listRepoFiles(hub, parsed.owner, parsed.repo, options.signal);
    const repoName = `${parsed.owner}/${parsed.repo}`;
    planned = pickQuant(files, parsed.quant, repoName).map((f: RepoFile) => ({
      url: hubFileUrl(hub, parsed.owner, parsed.repo, f.path), path: `hf/${repoName}/${f.path}`, size: f.size, sha256: f.sha256,
    }));
  } else if (parsed.kind === "hf-file") {
    planned = splitParts(parsed.file).map((file) => ({ url: hubFileUrl(hub, parsed.owner, parsed.repo, file), path: `hf/${parsed.owner}/${parsed.repo}/${file}` }));
  } else {
    const url = new URL(parsed.url);
    const dir = `url/${safeSegment(url.host)}/${url.pathname.split("/").slice(1, -1).map(safeSegment).filter(Boolean).join("/")}`.replace(/\/$/, "");
    planned = splitParts(decodeURIComponent(url.pathname.split("/").pop() || "model.gguf")).map((file) => {
      const u = new URL(parsed.url);
      u.pathname = `${url.pathname.slice(0, url.pathname.lastIndexOf("/") + 1)}${encodeURIComponent(file)}`;
      return { url: u.href, path: `${dir}/${safeSegment(file)}` };
    });
  }

  const files: StoredFile[] = [];
  let downloaded = false;
  const fileSource = parsed.kind === "hf-quant" ? `hf:${parsed.owner}/${parsed.repo}/${planned[0]!.path.split("/").slice(3).join("/")}` : source;
  for (const file of planned) {
    const dest = store.pathOf(file.path);
    if (await fileExists(dest)) {
      files.push(await describeExisting(store, file.path));
      continue;
    }
    try {
      await fetchFile(file, dest);
    } catch (err) {
      // A failed pull leaves no empty folders behind (a partial download to resume keeps its own).
      await removeEmptyFolders(store, dirname(dest));
      throw err;
    }
  }
  async function fetchFile(file: (typeof planned)[number], dest: string): Promise<void> {
    refuseOffline(ref, store, options);
    options.onNotice?.(`downloading ${file.url.replace(/\?.*$/, "")} to ${dest}`);
    const result = await downloadFile(file.url, dest, {
      headers: file.url.startsWith(hub.endpoint) ? hub.headers : {},
      expectedSize: file.size,
      expectedSha256: file.sha256,
      label: basename(file.path),
      onProgress: options.onProgress,
      onNotice: options.onNotice,
      signal: options.signal,
      retries: options.retries,
      retryDelayMs: options.retryDelayMs,
    });
    await checkGguf(dest);
    files.push({ path: file.path, size: result.size, sha256: result.sha256 });
    downloaded = true;
  }
  const entry = await store.record({
    name: modelNameOf(files[0]!.path),
    source: fileSource,
    ...(fileSource !== ref ? { alias: ref } : {}),
    files,
  });
  return { entry, path: store.pathOf(files[0]!.path), downloaded };
}

/** Removes `dir` and its parents while they are empty, up to (not including) the store's folder. */
async function removeEmptyFolders(store: ModelStore, dir: string): Promise<void> {
  for (let d = dir; store.relativePath(d) !== undefined && resolve(d) !== resolve(store.dir); d = dirname(d)) {
    if (!(await rmdir(d).then(() => true, () => false))) break;
  }
}

/** The reference recorded as an entry's source. */
function canonicalSource(ref: Exclude<ModelRef, { kind: "path" }>): string {
  if (ref.kind === "hf-file") return `hf:${ref.owner}/${ref.repo}/${ref.file}`;
  if (ref.kind === "hf-quant") return `hf:${ref.owner}/${ref.repo}${ref.quant ? `:${ref.quant}` : ""}`;
  return ref.url;
}

function refuseOffline(ref: string, store: ModelStore, options: PullOptions): void {
  if (!options.offline) return;
  throw new OfflineError(`offline mode (NIMBLE_OFFLINE): ${ref} is not in the model store (${store.dir}) and will not be downloaded; pull it while online, or serve a local file`);
}

function safeSegment(s: string): string {
  const clean = s.replace(/[^A-Za-z0-9._-]/g, "_");
  return clean === "." || clean === ".." ? "_" : clean;
}

/** A file already in the store: its size, and its sha256 when the index has it. */
async function describeExisting(store: ModelStore, path: string): Promise<StoredFile> {
  const size = (await stat(store.pathOf(path))).size;
  const indexed = (await store.read()).flatMap((e) => e.files).find((f) => f.path === path);
  return { path, size, ...(indexed?.sha256 ? { sha256: indexed.sha256 } : {}) };
}

/** Refuses what is not a GGUF (an HTML error page saved as a model, say), deleting it. */
async function checkGguf(path: string): Promise<void> {
  const file = await open(path, "r");
  const magic = Buffer.alloc(4);
  try { await file.read(magic, 0, 4, 0); } finally { await file.close(); }
  if (magic.toString("latin1") !== "GGUF") {
    await rm(path, { force: true });
    throw new DownloadError(`${path} is not a GGUF file (it starts with ${JSON.stringify(magic.toString("latin1"))}); it was deleted`);
  }
}

/** `nimble pull ./file.gguf`: copies the file (every part of a split one) into `<store>/local/`. */
async function importLocalFile(store: ModelStore, path: string, options: PullOptions): Promise<PulledModel> {
  const absolute = resolve(path);
  if (!(await fileExists(absolute))) throw new ModelRefError(`model file not found: ${absolute}`);
  const inStore = store.relativePath(absolute);
  const parts = splitParts(absolute);
  const dir = await localDir(store, absolute);
  const files: StoredFile[] = [];
  let downloaded = false;
  for (const part of parts) {
    if (!(await fileExists(part))) throw new ModelRefError(`model file not found: ${part} (a part of ${basename(absolute)})`);
    await checkGguf(part).catch((err: Error) => { throw new ModelRefError(err.message.replace(/; it was deleted$/, "")); });
    const rel = inStore !== undefined ? store.relativePath(part)! : `${dir}/${safeSegment(basename(part))}`;
    const dest = store.pathOf(rel);
    if (inStore === undefined && !(await fileExists(dest))) {
      options.onNotice?.(`copying ${part} to ${dest}`);
      files.push({ path: rel, ...(await copyWithHash(part, dest, basename(part), options.onProgress)) });
      downloaded = true;
    } else {
      files.push(await describeExisting(store, rel));
    }
  }
  const entry = await store.record({ name: modelNameOf(files[0]!.path), source: inStore !== undefined ? `local:${files[0]!.path}` : absolute, files });
  return { entry, path: store.pathOf(files[0]!.path), downloaded };
}

/** `local/`, unless another file of the same name was copied there from elsewhere: then `local/<hash of this path>/`. */
async function localDir(store: ModelStore, absolute: string): Promise<string> {
  const plain = `local/${safeSegment(basename(absolute))}`;
  const owner = (await store.read()).find((e) => e.files[0]!.path === plain);
  if (!(await fileExists(store.pathOf(plain))) || owner?.source === absolute) return "local";
  return `local/${createHash("sha256").update(absolute).digest("hex").slice(0, 8)}`;
}

async function copyWithHash(from: string, to: string, label: string, onProgress?: (p: DownloadProgress) => void): Promise<{ size: number; sha256: string }> {
  await mkdir(dirname(to), { recursive: true });
  const total = (await stat(from)).size;
  const hash = createHash("sha256");
  let received = 0;
  const tmp = `${to}.part`;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      received += chunk.length;
      onProgress?.({ file: label, received, total, resumedFrom: 0, copy: true });
      done(null, chunk);
    },
  });
  try {
    await pipeline(createReadStream(from), tap, createWriteStream(tmp));
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await rename(tmp, to);
  return { size: total, sha256: hash.digest("hex") };
}
