/**
 * Model references and the Hugging Face Hub: parsing `hf:` / URL / path references, listing a
 * repository's files (`/api/models/{repo}/tree/main`, as huggingface_hub and llama.cpp's `-hf` do),
 * picking the GGUF for a quantization tag, and naming the parts of split GGUFs.
 */
import { z } from "zod";
import { ggufFileQuantNames } from "node-llama-cpp";
import { DownloadError, fetchFollowingRedirects, httpFailure } from "./download.js";

export type ModelRef =
  /** `hf:owner/repo/path/file.gguf` */
  | { kind: "hf-file"; owner: string; repo: string; file: string }
  /** `hf:owner/repo:Q4_K_M`, or `hf:owner/repo` (Q4_K_M, else Q8_0, else the first GGUF) */
  | { kind: "hf-quant"; owner: string; repo: string; quant: string | undefined }
  | { kind: "url"; url: string }
  | { kind: "path"; path: string };

export class ModelRefError extends Error {
  override name = "ModelRefError";
}

const HF_SYNTAX = "expected hf:owner/repo/file.gguf or hf:owner/repo:QUANT";
const NAME = "[A-Za-z0-9][A-Za-z0-9._-]*";

export function parseModelRef(ref: string): ModelRef {
  if (/^hf:/i.test(ref)) {
    const body = ref.slice(3).replace(/^\/\//, "");
    let m = new RegExp(`^(${NAME})/(${NAME})/(.+\\.gguf)$`, "i").exec(body);
    if (m && !m[3]!.split("/").some((s) => s === "" || s === "." || s === "..")) {
      return { kind: "hf-file", owner: m[1]!, repo: m[2]!, file: m[3]! };
    }
    m = new RegExp(`^(${NAME})/(${NAME})(?::([A-Za-z0-9_.-]+))?$`).exec(body);
    if (m && !/\.gguf$/i.test(m[2]!)) return { kind: "hf-quant", owner: m[1]!, repo: m[2]!, quant: m[3] };
    throw new ModelRefError(`invalid model reference "${ref}": ${HF_SYNTAX}`);
  }
  if (/^https?:\/\//i.test(ref)) {
    let url: URL;
    try { url = new URL(ref); } catch { throw new ModelRefError(`invalid model URL "${ref}"`); }
    // A Hub page link (…/blob/main/file.gguf) downloads from …/resolve/main/file.gguf.
    url.pathname = url.pathname.replace(/^(\/[^/]+\/[^/]+)\/blob\//, "$1/resolve/");
    return { kind: "url", url: url.href };
  }
  return { kind: "path", path: ref };
}

/** `hf:owner/repo/file.gguf` only (kept for callers that need a file reference). */
export function parseHfRef(ref: string): { owner: string; repo: string; file: string } {
  const parsed = parseModelRef(ref);
  if (parsed.kind !== "hf-file") throw new ModelRefError(`invalid model reference "${ref}": expected hf:owner/repo/file.gguf`);
  return { owner: parsed.owner, repo: parsed.repo, file: parsed.file };
}

export interface HubSettings {
  endpoint: string;
  headers: Record<string, string>;
}

/** `HF_ENDPOINT` (default https://huggingface.co) and `HF_TOKEN`, as huggingface_hub reads them. */
export function hubSettings(env: NodeJS.ProcessEnv): HubSettings {
  const endpoint = (env.HF_ENDPOINT || "https://huggingface.co").replace(/\/+$/, "");
  return { endpoint, headers: env.HF_TOKEN ? { authorization: `Bearer ${env.HF_TOKEN}` } : {} };
}

const encodePath = (p: string) => p.split("/").map(encodeURIComponent).join("/");

export function hubFileUrl(hub: HubSettings, owner: string, repo: string, file: string): string {
  return `${hub.endpoint}/${owner}/${repo}/resolve/main/${encodePath(file)}`;
}

/** One entry of `/api/models/{repo}/tree/{revision}`; `lfs.oid` is the file's sha256. */
const TreeEntry = z.object({
  type: z.string(),
  path: z.string(),
  size: z.number().optional(),
  lfs: z.object({ oid: z.string(), size: z.number() }).partial().optional(),
});

export interface RepoFile {
  path: string;
  size?: number;
  sha256?: string;
}

/** Lists a repository's files (following the API's `Link: rel="next"` pages). */
export async function listRepoFiles(hub: HubSettings, owner: string, repo: string, signal?: AbortSignal): Promise<RepoFile[]> {
  const files: RepoFile[] = [];
  let url: string | undefined = `${hub.endpoint}/api/models/${owner}/${repo}/tree/main?recursive=true`;
  while (url) {
    const { response } = await fetchFollowingRedirects(url, { headers: { ...hub.headers, accept: "application/json" }, signal });
    if (response.status === 404 || response.status === 401) {
      // The Hub answers 401 for a repository that does not exist as well as for a gated one without a token.
      throw new DownloadError(`repository ${owner}/${repo} was not found on ${new URL(hub.endpoint).host} (HTTP ${response.status})${hub.headers.authorization ? "" : "; for gated or private repositories set HF_TOKEN"}`);
    }
    if (!response.ok) throw httpFailure(url, response.status);
    const parsed = z.array(TreeEntry).safeParse(await response.json().catch(() => undefined));
    if (!parsed.success) throw new DownloadError(`unexpected answer from ${url}: not a file listing`);
    for (const e of parsed.data) {
      if (e.type !== "file") continue;
      const sha = e.lfs?.oid?.toLowerCase();
      files.push({ path: e.path, size: e.lfs?.size ?? e.size, ...(sha && /^[0-9a-f]{64}$/.test(sha) ? { sha256: sha } : {}) });
    }
    const next = /<([^>]+)>;\s*rel="next"/.exec(response.headers.get("link") ?? "");
    url = next ? new URL(next[1]!, url).href : undefined;
  }
  return files;
}

const SPLIT = /-(\d{5})-of-(\d{5})\.gguf$/i;

export interface SplitInfo { part: number; parts: number; prefix: string }

/** `model-00001-of-00003.gguf` → part 1 of 3; undefined for an unsplit file. */
export function splitInfo(path: string): SplitInfo | undefined {
  const m = SPLIT.exec(path);
  if (!m) return undefined;
  const part = Number(m[1]), parts = Number(m[2]);
  if (part < 1 || parts < 1 || part > parts) return undefined;
  return { part, parts, prefix: path.slice(0, m.index) };
}

/** Every part's path of the split GGUF `path` belongs to (just `path` when it is not split). */
export function splitParts(path: string): string[] {
  const s = splitInfo(path);
  if (!s) return [path];
  const pad = (n: number) => String(n).padStart(5, "0");
  return Array.from({ length: s.parts }, (_, i) => `${s.prefix}-${pad(i + 1)}-of-${pad(s.parts)}.gguf`);
}

/** GGUFs in a repository that are not models (projectors, importance matrices, draft heads). */
const NOT_A_MODEL = /(mmproj|imatrix|mtp-|eagle3-|dflash-|dspark-)/i;

/** Quantization names found in file names (Q4_K_M, IQ4_XS, F16, …), longest first so Q4_K_M wins over Q4_K. */
const QUANT_NAMES = [...ggufFileQuantNames].sort((a, b) => b.length - a.length);

export function quantOf(path: string): string | undefined {
  const name = path.replace(SPLIT, ".gguf");
  return QUANT_NAMES.find((q) => tagPattern(q).test(name));
}

/** The tag, not inside a longer name: "Q4_K" matches "x-Q4_K.gguf" but not "x-IQ4_K_M.gguf" or "x-Q4_K_M.gguf". */
function tagPattern(tag: string): RegExp {
  const escaped = tag.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^a-z0-9])${escaped}(?=[^a-z0-9_]|$)`, "i");
}

/**
 * The files to download for a quantization tag: the GGUF whose name contains the tag
 * (case-insensitive; all parts of a split file, the first one served), or an error listing the
 * quantizations the repository has. Without a tag: Q4_K_M, else Q8_0, else the first model GGUF.
 */
export function pickQuant(files: RepoFile[], quant: string | undefined, repoName: string): RepoFile[] {
  const models = files.filter((f) => /\.gguf$/i.test(f.path) && !NOT_A_MODEL.test(f.path.split("/").pop()!));
  const firsts = models.filter((f) => (splitInfo(f.path)?.part ?? 1) === 1).sort((a, b) => a.path.length - b.path.length || a.path.localeCompare(b.path));
  if (models.length === 0) throw new DownloadError(`repository ${repoName} has no GGUF files`);
  const tags = quant ? [quant] : ["Q4_K_M", "Q8_0"];
  let chosen: RepoFile | undefined;
  for (const tag of tags) {
    chosen = firsts.find((f) => tagPattern(tag).test(f.path));
    if (chosen) break;
  }
  if (!chosen && !quant) chosen = firsts[0];
  if (!chosen) {
    const available = [...new Set(firsts.map((f) => quantOf(f.path) ?? f.path))].sort();
    throw new DownloadError(`no GGUF file for quantization "${quant}" in ${repoName}; available: ${available.join(", ")}`);
  }
  const byPath = new Map(models.map((f) => [f.path, f]));
  return splitParts(chosen.path).map((p) => {
    const f = byPath.get(p);
    if (!f) throw new DownloadError(`${repoName} lists ${chosen.path} but not its part ${p}`);
    return f;
  });
}
