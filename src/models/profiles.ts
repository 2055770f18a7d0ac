/**
 * Serving profiles: the settings a model can be served with on this machine (GPU layers, context
 * size, parallel sequences, KV cache type, batch size, threads), each with its memory estimate
 * (node-llama-cpp's GgufInsights, from the GGUF header) and why it was chosen or rejected.
 * The first profile that fits wins, in order of preference: everything on the GPU, a smaller KV
 * cache, part of the model on the GPU, the CPU; then fewer parallel sequences, then a shorter context.
 */
import { freemem } from "node:os";
export { parseSize } from "./size.js";
import { GgmlType, GgufInsights, readGgufFileInfo } from "node-llama-cpp";
import { sharedLlama } from "../engine/llama-instance.js";

export interface Hardware {
  cores: number;
  /** Memory Nimble may use, in bytes (free memory, or a budget given with --ram-budget). */
  ramBytes: number;
  gpu: string | false;
  vramBytes: number;
}

export interface ProfileRequest {
  /** Fixed by a flag: profiles must keep them. Otherwise they are defaults that may be lowered to fit. */
  contextSize?: number;
  parallel?: number;
  batchSize?: number;
  threads?: number;
}

export interface Profile {
  name: string;
  gpuLayers: number;
  contextSize: number;
  parallel: number;
  kvCacheType: "f16" | "q8_0";
  batchSize: number;
  threads: number;
  ramBytes: number;
  vramBytes: number;
  fits: boolean;
  /** Why it was chosen, rejected, or only suggested. */
  reason: string;
}

export interface ProfilePlan {
  chosen: Profile | undefined;
  profiles: Profile[];
  hardware: Hardware;
  /** When nothing fits with the settings asked for: the message, naming what would fit. */
  refusal?: string;
}

const DEFAULT_PARALLEL = 4;
const DEFAULT_CONTEXT = 4096;
const MIN_CONTEXT = 512;

const gb = (n: number) => (n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GB` : `${(n / 1024 ** 2).toFixed(1)} MB`);

/** The machine as node-llama-cpp sees it: cores, GPU kind and free VRAM; RAM from the OS. */
export async function detectHardware(gpu: "auto" | "cuda" | "vulkan" | "metal" | "cpu" = "auto"): Promise<Hardware> {
  const llama = await sharedLlama(gpu);
  const vram = llama.gpu ? await llama.getVramState() : { free: 0 };
  return { cores: llama.cpuMathCores, ramBytes: freemem(), gpu: llama.gpu, vramBytes: vram.free };
}

/** Profiles for the model at `path` on `hardware`. */
export async function planProfiles(path: string, hardware: Hardware, request: ProfileRequest = {}): Promise<ProfilePlan> {
  const info = await readGgufFileInfo(path, { logWarnings: false });
  const insights = await GgufInsights.from(info);
  const layers = insights.totalLayers;
  const train = insights.trainContextSize ?? DEFAULT_CONTEXT;
  const wantContext = request.contextSize ?? Math.min(train, DEFAULT_CONTEXT);
  const wantParallel = request.parallel ?? DEFAULT_PARALLEL;
  const threads = request.threads || hardware.cores;
  // llama.cpp quantizes the KV cache in blocks of 32 along the head: smaller heads keep F16.
  const arch = info.architectureMetadata as { embedding_length?: number; attention?: { head_count?: number; key_length?: number } };
  const headSize = arch.attention?.key_length ?? (arch.embedding_length && arch.attention?.head_count ? arch.embedding_length / arch.attention.head_count : 0);
  const q8KvPossible = headSize > 0 && headSize % 32 === 0;

  const estimate = async (name: string, gpuLayers: number, contextSize: number, parallel: number, kvCacheType: Profile["kvCacheType"]): Promise<Profile> => {
    const batchSize = Math.min(request.batchSize ?? 512, contextSize * parallel);
    if (kvCacheType === "q8_0" && !q8KvPossible) {
      return { name, gpuLayers, contextSize, parallel, kvCacheType, batchSize, threads, ramBytes: 0, vramBytes: 0, fits: false, reason: `a q8_0 KV cache needs a head size divisible by 32 (this model's is ${headSize})` };
    }
    const kv = kvCacheType === "q8_0" ? GgmlType.Q8_0 : GgmlType.F16;
    const model = await insights.estimateModelResourceRequirementsV2({ gpuLayers });
    const context = await insights.estimateContextResourceRequirementsV2({ contextSize, modelGpuLayers: gpuLayers, sequences: parallel, batchSize, flashAttention: true, kvCacheKeyType: kv, kvCacheValueType: kv });
    // Without a GPU backend every byte lands in RAM, whatever the split says.
    const onGpu = hardware.gpu !== false && gpuLayers > 0;
    const vramBytes = onGpu ? model.gpuVram + context.gpuVram : 0;
    const ramBytes = model.cpuRam + context.cpuRam + (onGpu ? 0 : model.gpuVram + context.gpuVram);
    const fits = ramBytes <= hardware.ramBytes && vramBytes <= hardware.vramBytes + (onGpu ? 0 : Infinity);
    const needs = `needs ${gb(ramBytes)} RAM${onGpu ? ` and ${gb(vramBytes)} VRAM` : ""}; ${gb(hardware.ramBytes)} RAM${hardware.gpu ? ` and ${gb(hardware.vramBytes)} VRAM` : ""} available`;
    return { name, gpuLayers, contextSize, parallel, kvCacheType, batchSize, threads, ramBytes, vramBytes, fits, reason: needs };
  };

  const profiles: Profile[] = [];
  if (hardware.gpu) {
    profiles.push(await estimate("gpu", layers, wantContext, wantParallel, "f16"));
    profiles.push(await estimate("gpu-kv-q8", layers, wantContext, wantParallel, "q8_0"));
    // The most layers that fit on the GPU (the rest on the CPU).
    let lo = 0, hi = layers - 1, best: Profile | undefined;
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const p = await estimate("gpu-partial", mid, wantContext, wantParallel, "f16");
      if (p.fits && mid > 0) { best = p; lo = mid + 1; } else hi = mid - 1;
    }
    profiles.push(best ?? { ...(await estimate("gpu-partial", 1, wantContext, wantParallel, "f16")), fits: false });
  }
  profiles.push(await estimate("cpu", 0, wantContext, wantParallel, "f16"));
  profiles.push(await estimate("cpu-kv-q8", 0, wantContext, wantParallel, "q8_0"));
  // Fewer sequences, then a shorter context: the first smaller setting that fits (or the smallest tried).
  const gpuLayers = hardware.gpu ? layers : 0;
  for (let parallel = Math.floor(wantParallel / 2); ; parallel = Math.floor(parallel / 2)) {
    const p = await estimate("fewer-sequences", gpuLayers, wantContext, Math.max(1, parallel), "f16");
    if (p.fits || parallel <= 1) { if (wantParallel > 1) profiles.push(p); break; }
  }
  for (let ctx = Math.floor(wantContext / 2); ; ctx = Math.floor(ctx / 2)) {
    const p = await estimate("shorter-context", gpuLayers, Math.max(MIN_CONTEXT, ctx), wantParallel, "f16");
    if (p.fits || ctx <= MIN_CONTEXT) { if (wantContext > MIN_CONTEXT) profiles.push(p); break; }
  }

  // Settings fixed by a flag cannot be lowered: such profiles are only suggestions.
  const allowed = (p: Profile) => (request.parallel === undefined || p.parallel === request.parallel) && (request.contextSize === undefined || p.contextSize === request.contextSize);
  const chosen = profiles.find((p) => p.fits && allowed(p));
  for (const p of profiles) {
    if (p === chosen) p.reason = `chosen: ${p.reason}`;
    else if (!p.fits) p.reason = `rejected: ${p.reason}`;
    else if (!allowed(p)) p.reason = `would fit, but ${request.parallel !== undefined && p.parallel !== request.parallel ? `--parallel ${request.parallel}` : `--ctx-size ${request.contextSize}`} was asked for: ${p.reason}`;
    else p.reason = `fits, but "${chosen?.name}" is preferred: ${p.reason}`;
  }
  let refusal: string | undefined;
  if (!chosen) {
    const alternative = profiles.find((p) => p.fits);
    const smallest = profiles.reduce((a, b) => (a.ramBytes <= b.ramBytes ? a : b));
    refusal = `the model does not fit with ${wantParallel} sequences of ${wantContext} tokens: ${profiles.find((p) => p.name === "cpu")!.reason.replace(/^rejected: /, "")}. ` +
      (alternative
        ? `What would fit: ${describeProfile(alternative)} (${flagsFor(alternative)})`
        : `Nothing tried fits; the smallest (${describeProfile(smallest)}) needs ${gb(smallest.ramBytes)} RAM: free memory or use a smaller quantization`);
  }
  return { chosen, profiles, hardware, ...(refusal ? { refusal } : {}) };
}

export function describeProfile(p: Profile): string {
  const where = p.gpuLayers === 0 ? "CPU only" : `${p.gpuLayers} layers on the GPU`;
  return `${p.name}: ${where}, ${p.parallel} sequence${p.parallel === 1 ? "" : "s"} of ${p.contextSize} tokens, KV cache ${p.kvCacheType}, batch ${p.batchSize}, ${p.threads} threads`;
}

function flagsFor(p: Profile): string {
  return `--parallel ${p.parallel} --ctx-size ${p.contextSize}${p.gpuLayers === 0 ? " --gpu cpu" : ""}`;
}

/** Sizes like 512MB, 8GB, 1.5G or a byte count. */

