/**
 * How much memory a model will take once served: its weights plus the KV cache and compute
 * buffers of its context, estimated from the GGUF header alone (node-llama-cpp's GgufInsights,
 * which follows llama.cpp's allocation rules), RAM and VRAM together.
 */
import { GgufInsights, readGgufFileInfo } from "node-llama-cpp";

export interface MemoryEstimateOptions {
  /** Tokens per sequence (default: the training context, at most 4096). */
  contextSize?: number;
  sequences?: number;
  batchSize?: number;
  /** An embedding or ranking context (no KV cache kept between requests). */
  embedding?: boolean;
}

export interface MemoryEstimate {
  weightsBytes: number;
  contextBytes: number;
  totalBytes: number;
  contextSize: number;
}

export async function estimateModelMemory(path: string, options: MemoryEstimateOptions = {}): Promise<MemoryEstimate> {
  // Without a Llama instance, GgufInsights uses node-llama-cpp's backend-less one: no binding is loaded for an estimate.
  const info = await readGgufFileInfo(path, { logWarnings: false });
  const insights = await GgufInsights.from(info);
  const sequences = options.sequences ?? 1;
  const contextSize = options.contextSize ?? Math.min(insights.trainContextSize ?? 4096, 4096);
  const weights = await insights.estimateModelResourceRequirementsV2({ gpuLayers: 0 });
  const context = await insights.estimateContextResourceRequirementsV2({
    // Per sequence: node-llama-cpp multiplies by `sequences` itself, as createContext does.
    contextSize,
    modelGpuLayers: 0,
    sequences,
    batchSize: options.batchSize,
    isEmbeddingContext: options.embedding ?? false,
    flashAttention: true,
  });
  const weightsBytes = weights.cpuRam + weights.gpuVram;
  const contextBytes = context.cpuRam + context.gpuVram;
  return { weightsBytes, contextBytes, totalBytes: weightsBytes + contextBytes, contextSize };
}
