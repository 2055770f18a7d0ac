/**
 * The embedding engine: a GGUF model loaded for embeddings (llama.cpp pooling), L2-normalised
 * vectors. Inputs of concurrent requests are decoded together (embedding-batch.ts) when Nimble's
 * native addon is available; otherwise node-llama-cpp's embedding context embeds them one at a time.
 */
import { LlamaVocabularyType, type LlamaEmbeddingContext, type LlamaModel, type Token } from "node-llama-cpp";
import { EmbeddingBatcher, NativeEmbeddingDecoder, type EmbeddingBatchStats } from "./embedding-batch.js";
import type { GpuChoice } from "./llama-engine.js";
import type { TextTokenizer } from "../rag/types.js";
import { sharedLlama } from "./llama-instance.js";

export interface EmbeddingEngineOptions {
  modelPath: string;
  servedName: string;
  /** Tokens one input may have; default: the model's training context, at most 8192. */
  contextSize?: number;
  /** CPU threads; default: the physical cores. */
  threads?: number;
  gpu?: GpuChoice;
  /** Most tokens decoded together (all inputs of one batch); default: the larger of 8192 and one input's most tokens. */
  batchSize?: number;
  /** Most inputs decoded together; default: as many as 32768 KV cells hold (at most 32). */
  sequences?: number;
  /** false: embed one input at a time through node-llama-cpp (the path used when the native addon is missing). */
  batching?: boolean;
}

/** How inputs are decoded: together (the native batch path), or one at a time and why. */
export type EmbeddingBatching = { batched: true; batchSize: number; sequences: number } | { batched: false; reason: string };

export interface EmbeddingInfo {
  id: string;
  path: string;
  dimensions: number;
  /** Most tokens one input may have (node-llama-cpp keeps one position of the context free). */
  maxInputTokens: number;
  vocabSize: number;
}

export class EmbeddingEngine {
  private sequential = 0;

  private constructor(
    readonly info: EmbeddingInfo,
    readonly batching: EmbeddingBatching,
    private readonly model: LlamaModel,
    private readonly runner: EmbeddingBatcher | LlamaEmbeddingContext,
  ) {}

  static async load(options: EmbeddingEngineOptions): Promise<EmbeddingEngine> {
    const gpu = options.gpu ?? "auto";
    const llama = await sharedLlama(gpu);
    const model = await llama.loadModel({ modelPath: options.modelPath });
    const contextSize = options.contextSize ?? Math.min(model.trainContextSize, 8192);
    // Threads set deliberately: node-llama-cpp's default oversubscribes small machines.
    const threads = options.threads ?? llama.cpuMathCores;
    // An input may have contextSize tokens plus the special tokens put around it; llama.cpp gives
    // each sequence a multiple of 256 cells.
    const inputTokens = Math.ceil((contextSize + 2) / 256) * 256;
    const sequences = options.sequences ?? defaultEmbeddingSequences(inputTokens);
    const batchSize = Math.max(options.batchSize ?? 8192, inputTokens);
    const decoder = options.batching === false ? "batching turned off" : await NativeEmbeddingDecoder.create(model, { inputTokens, sequences, batchSize, threads });
    const runner = typeof decoder === "string"
      ? await model.createEmbeddingContext({ contextSize, batchSize: contextSize, threads })
      : new EmbeddingBatcher(decoder);
    const batching: EmbeddingBatching = typeof decoder === "string" ? { batched: false, reason: decoder } : { batched: true, batchSize, sequences };
    const info: EmbeddingInfo = {
      id: options.servedName,
      path: options.modelPath,
      dimensions: model.embeddingVectorSize,
      maxInputTokens: contextSize - 1,
      vocabSize: model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 0,
    };
    return new EmbeddingEngine(info, batching, model, runner);
  }

  tokenize(text: string): number[] {
    return this.model.tokenize(text, false);
  }

  /** The model's tokenizer as RAG's TextTokenizer (chunk sizes in the embedder's own tokens). */
  tokenizer(): TextTokenizer {
    return { encode: (text) => this.tokenize(text), decode: (tokens) => this.detokenize(tokens) };
  }

  /** The text of token ids (the inverse of tokenize, for cutting text at a token count). */
  detokenize(tokens: readonly number[]): string {
    return this.model.detokenize(tokens as Token[]);
  }

  /** The L2-normalised embedding of each input (token ids). */
  async embed(inputs: number[][]): Promise<Float32Array[]> {
    const prepared = inputs.map((tokens) => this.withSpecialTokens(tokens));
    if (this.runner instanceof EmbeddingBatcher) return (await this.runner.embed(prepared)).map(normalize);
    const out: Float32Array[] = [];
    for (const tokens of prepared) {
      this.sequential++;
      const { vector } = await this.runner.getEmbeddingFor(tokens as Token[]);
      out.push(normalize(Float32Array.from(vector)));
    }
    return out;
  }

  /** Decodes run and inputs embedded so far (for metrics and tests). */
  stats(): EmbeddingBatchStats {
    if (this.runner instanceof EmbeddingBatcher) return this.runner.stats;
    return { decodes: this.sequential, inputs: this.sequential, largestBatch: this.sequential > 0 ? 1 : 0 };
  }

  async close(): Promise<void> {
    if (this.runner instanceof EmbeddingBatcher) await this.runner.close();
    else await this.runner.dispose();
    await this.model.dispose();
  }

  /**
   * The beginning and end tokens the model's tokenizer puts around an input, as node-llama-cpp's
   * embedding context adds them (utils/tokenizerUtils.js), so both paths embed the same tokens.
   */
  private withSpecialTokens(tokens: number[]): number[] {
    const { vocabularyType, tokens: special } = this.model;
    const none = vocabularyType === LlamaVocabularyType.rwkv;
    const first = none || vocabularyType === LlamaVocabularyType.ugm ? null
      : vocabularyType === LlamaVocabularyType.wpm ? special.bos : special.shouldPrependBosToken ? special.bos : null;
    const last = none ? null
      : vocabularyType === LlamaVocabularyType.wpm ? special.sep : vocabularyType === LlamaVocabularyType.ugm ? special.eos : special.shouldAppendEosToken ? special.eos : null;
    const out = first != null && tokens[0] !== first ? [first, ...tokens] : [...tokens];
    if (last != null && out[out.length - 1] !== last) out.push(last);
    return out;
  }
}

export function normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i] = v[i]! / norm;
  return v;
}

/** Inputs decoded together by default: as many as 32768 KV cells hold at this input length, at most 32. */
export function defaultEmbeddingSequences(inputTokens: number): number {
  return Math.max(1, Math.min(32, Math.floor(32768 / inputTokens)));
}
