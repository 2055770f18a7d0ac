/**
 * The embedding engine: a GGUF model loaded for embeddings (llama.cpp pooling), one embedding
 * context, L2-normalised vectors. Requests are served in arrival order by the context.
 */
import { getLlama, LlamaLogLevel, type LlamaEmbeddingContext, type LlamaModel, type Token } from "node-llama-cpp";
import type { GpuChoice } from "./llama-engine.js";

export interface EmbeddingEngineOptions {
  modelPath: string;
  servedName: string;
  /** Tokens one input may have; default: the model's training context, at most 8192. */
  contextSize?: number;
  /** CPU threads; default: the physical cores. */
  threads?: number;
  gpu?: GpuChoice;
}

export interface EmbeddingInfo {
  id: string;
  path: string;
  dimensions: number;
  /** Most tokens one input may have (node-llama-cpp keeps one position of the context free). */
  maxInputTokens: number;
  vocabSize: number;
}

export class EmbeddingEngine {
  private constructor(
    readonly info: EmbeddingInfo,
    private readonly model: LlamaModel,
    private readonly context: LlamaEmbeddingContext,
  ) {}

  static async load(options: EmbeddingEngineOptions): Promise<EmbeddingEngine> {
    const gpu = options.gpu ?? "auto";
    const llama = await getLlama({ gpu: gpu === "cpu" ? false : gpu, logLevel: LlamaLogLevel.error, progressLogs: false });
    const model = await llama.loadModel({ modelPath: options.modelPath });
    const contextSize = options.contextSize ?? Math.min(model.trainContextSize, 8192);
    // Threads set deliberately: node-llama-cpp's default oversubscribes small machines.
    const context = await model.createEmbeddingContext({ contextSize, batchSize: contextSize, threads: options.threads ?? llama.cpuMathCores });
    const info: EmbeddingInfo = {
      id: options.servedName,
      path: options.modelPath,
      dimensions: model.embeddingVectorSize,
      maxInputTokens: contextSize - 1,
      vocabSize: model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 0,
    };
    return new EmbeddingEngine(info, model, context);
  }

  tokenize(text: string): number[] {
    return this.model.tokenize(text, false);
  }

  /** The L2-normalised embedding of each input (token ids). */
  async embed(inputs: number[][]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const tokens of inputs) {
      const { vector } = await this.context.getEmbeddingFor(tokens as Token[]);
      out.push(normalize(Float32Array.from(vector)));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.context.dispose();
    await this.model.dispose();
  }
}

export function normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i] = v[i]! / norm;
  return v;
}
