/**
 * Turns a model reference into a local GGUF path: a file path as is, `hf:owner/repo/file.gguf`
 * downloaded once into the home folder, or nothing at all: the built-in demo model, generated once.
 */
import { basename, join, resolve } from "node:path";
import { downloadFile, fileExists, type DownloadProgress } from "./download.js";
import { generateModel, PRESETS } from "./generate.js";

export interface ResolvedModel {
  path: string;
  /** Default served name. */
  name: string;
  isDemo: boolean;
}

export interface ResolveOptions {
  home: string;
  onDownloadProgress?: (p: DownloadProgress) => void;
  /** Told once when a download or generation starts. */
  onNotice?: (message: string) => void;
  env?: NodeJS.ProcessEnv;
}

export class ModelRefError extends Error {
  override name = "ModelRefError";
}

export const DEMO_MODEL_NAME = "nimble-demo";
/** Bump when the demo preset changes so an old cached file is not served. */
const DEMO_MODEL_FILE = "nimble-demo-v1.gguf";

export interface HfRef { owner: string; repo: string; file: string }

export function parseHfRef(ref: string): HfRef {
  const m = /^hf:\/?\/?([^/\s]+)\/([^/\s]+)\/(.+\.gguf)$/i.exec(ref);
  if (!m) throw new ModelRefError(`invalid model reference "${ref}": expected hf:owner/repo/file.gguf`);
  return { owner: m[1]!, repo: m[2]!, file: m[3]! };
}

export async function resolveModel(ref: string | undefined, options: ResolveOptions): Promise<ResolvedModel> {
  const env = options.env ?? process.env;
  if (ref === undefined) {
    const path = join(options.home, "models", DEMO_MODEL_FILE);
    if (!(await fileExists(path))) {
      options.onNotice?.(`generating the built-in demo model at ${path}`);
      await generateModel(path, { shape: PRESETS.demo, seed: 42, name: DEMO_MODEL_NAME });
    }
    return { path, name: DEMO_MODEL_NAME, isDemo: true };
  }
  if (ref.startsWith("hf:")) {
    const hf = parseHfRef(ref);
    const path = join(options.home, "models", "hf", hf.owner, hf.repo, hf.file);
    if (!(await fileExists(path))) {
      const endpoint = (env.HF_ENDPOINT ?? "https://huggingface.co").replace(/\/$/, "");
      const url = `${endpoint}/${hf.owner}/${hf.repo}/resolve/main/${hf.file.split("/").map(encodeURIComponent).join("/")}`;
      const headers: Record<string, string> = env.HF_TOKEN ? { authorization: `Bearer ${env.HF_TOKEN}` } : {};
      options.onNotice?.(`downloading ${ref} to ${path}`);
      await downloadFile(url, path, { headers, onProgress: options.onDownloadProgress });
    }
    return { path, name: basename(hf.file, ".gguf"), isDemo: false };
  }
  const path = resolve(ref);
  if (!(await fileExists(path))) throw new ModelRefError(`model file not found: ${path}`);
  return { path, name: basename(path).replace(/\.gguf$/i, ""), isDemo: false };
}
