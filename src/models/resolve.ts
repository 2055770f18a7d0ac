/**
 * Turns `serve --model REF` into a local GGUF path: a file path is used where it is; `hf:` references
 * and URLs are pulled into the store (once: the same store `nimble pull` fills) and marked as used;
 * no reference at all is the built-in demo model, generated once into the store.
 */
import { open, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { fileExists, type DownloadProgress } from "./download.js";
import { generateModel, PRESETS } from "./generate.js";
import { ModelRefError, parseModelRef } from "./hub.js";
import { pullModel } from "./pull.js";
import { ModelStore } from "./store.js";

export { ModelRefError, parseHfRef } from "./hub.js";

export interface ResolvedModel {
  path: string;
  /** Default served name. */
  name: string;
  isDemo: boolean;
}

export interface ResolveOptions {
  home: string;
  offline?: boolean;
  onDownloadProgress?: (p: DownloadProgress) => void;
  /** Told when a download or generation starts (and when a download resumes). */
  onNotice?: (message: string) => void;
  env?: NodeJS.ProcessEnv;
}

export const DEMO_MODEL_NAME = "nimble-demo";
/** Bump when the demo preset changes so an old cached file is not served. */
const DEMO_MODEL_FILE = "nimble-demo-v1.gguf";

export async function resolveModel(ref: string | undefined, options: ResolveOptions): Promise<ResolvedModel> {
  const store = new ModelStore(options.home);
  if (ref === undefined) {
    const path = join(store.dir, DEMO_MODEL_FILE);
    if (!(await fileExists(path))) {
      options.onNotice?.(`generating the built-in demo model at ${path}`);
      await generateModel(path, { shape: PRESETS.demo, seed: 42, name: DEMO_MODEL_NAME });
      const size = (await stat(path)).size;
      await store.record({ name: DEMO_MODEL_NAME, source: "demo (generated, random weights)", files: [{ path: DEMO_MODEL_FILE, size }] }).catch(() => {});
    }
    await store.touch(DEMO_MODEL_FILE).catch(() => {});
    return { path, name: DEMO_MODEL_NAME, isDemo: true };
  }
  const parsed = parseModelRef(ref);
  if (parsed.kind === "path") {
    const path = await localModelPath(parsed.path, store);
    await store.touch(store.relativePath(path) ?? "").catch(() => {});
    return { path, name: basename(path).replace(/\.gguf$/i, ""), isDemo: false };
  }
  const pulled = await pullModel(ref, {
    home: options.home,
    offline: options.offline,
    env: options.env,
    onProgress: options.onDownloadProgress,
    onNotice: options.onNotice,
  });
  // "Last used" is bookkeeping: a read-only store must not stop the model from being served.
  await store.touch(pulled.entry.files[0]!.path).catch(() => {});
  return { path: pulled.path, name: pulled.entry.name, isDemo: false };
}

/** Whether a reference reads as a file path (rather than a model's name in the store). */
export function looksLikePath(ref: string): boolean {
  return /[\\/]/.test(ref) || /\.gguf$/i.test(ref) || ref.startsWith(".");
}

/**
 * A local model: a GGUF file, or a model of the store by its name (what `nimble models ls` shows,
 * e.g. after `nimble pull URL`). A missing path says so; a file that is not a GGUF is named.
 */
export async function localModelPath(ref: string, store: ModelStore): Promise<string> {
  const path = resolve(ref);
  if (await fileExists(path)) {
    await checkGgufMagic(path);
    return path;
  }
  if (looksLikePath(ref)) throw new ModelRefError(`model file not found: ${path}`);
  try {
    const entry = await store.find(ref);
    return store.pathOf(entry.files[0]!.path);
  } catch (err) {
    throw new ModelRefError(`model file not found: ${path}, and ${(err as Error).message}`);
  }
}

/** A file that is not a GGUF (a safetensors file, an HTML page) is refused with its path. */
async function checkGgufMagic(path: string): Promise<void> {
  const handle = await open(path, "r");
  const magic = Buffer.alloc(4);
  try {
    await handle.read(magic, 0, 4, 0);
  } finally {
    await handle.close();
  }
  if (magic.toString("latin1") !== "GGUF") throw new ModelRefError(`${path} is not a GGUF model file (it starts with ${JSON.stringify(magic.toString("latin1"))}); Nimble serves llama.cpp's GGUF files`);
}
