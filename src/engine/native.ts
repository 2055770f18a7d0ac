/**
 * The slice of node-llama-cpp's native binding the scheduler drives directly.
 *
 * node-llama-cpp's own evaluation queue batches sequences in arrival order and lets each
 * sequence queue its next token on its own, which fragments micro-batches and desynchronises
 * decode steps (see docs/ARCHITECTURE.md). The scheduler therefore owns the decode step and
 * talks to the context's native methods. These are internal to node-llama-cpp, so the
 * version is pinned and checked here, in one place.
 */
import type { LlamaContext, LlamaModel } from "node-llama-cpp";

export interface NativeContext {
  initBatch(size: number): void;
  /** Adds tokens of one sequence at positions [firstPos, firstPos + tokens.length); returns batch indexes of logits. */
  addToBatch(sequenceId: number, firstPos: number, tokens: Uint32Array, logitIndexes: Uint32Array): Uint32Array;
  decodeBatch(): Promise<void>;
  /** Samples from the logits at a batch index; -1 when nothing could be sampled. */
  sampleToken(batchLogitIndex: number, sampler: NativeSampler): Promise<number>;
  /**
   * Also returns the probabilities of the candidates left after the sampler's chain, as
   * [token, probability, token, probability, …] sorted from the most likely.
   */
  sampleToken(batchLogitIndex: number, sampler: NativeSampler, probabilities: true): Promise<[number, number[]?]>;
  /** Removes KV cells of a sequence in [start, end) (end < 0: to the end). */
  removeTokenCellsFromSequence(sequenceId: number, start: number, end: number): boolean;
  setThreads(threads: number): void;
  getThreads(): number;
}

/** An embeddings (or ranking) context's native methods: the decode ones, and the pooled output. */
export interface NativeEmbeddingContext extends NativeContext {
  /** After a decode: the pooled output of sequence 0 (rank pooling: the classifier's outputs), at most `maxSize` values. */
  getEmbedding(inputTokens: number, maxSize?: number): Float64Array;
}

export interface NativeSamplerConfig {
  temperature?: number;
  minP?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  repeatPenalty?: number;
  repeatPenaltyMaxTokens?: number;
  repeatPenaltyTokens?: Uint32Array;
  repeatPenaltyPresencePenalty?: number;
  repeatPenaltyFrequencyPenalty?: number;
  tokenBiasKeys?: Uint32Array;
  tokenBiasValues?: Float32Array;
  /** A native grammar evaluation state: sampling only picks tokens the grammar allows, and advances it. */
  grammarEvaluationState?: unknown;
}

export interface NativeSampler {
  applyConfig(config: NativeSamplerConfig): void;
  dispose(): void;
}

export const SUPPORTED_NODE_LLAMA_CPP = "3.21.1";

interface InternalContext { _ctx?: NativeEmbeddingContext }
interface InternalModel { _model?: unknown; _llama?: { _bindings?: { AddonSampler?: new (model: unknown) => NativeSampler } } }

export function nativeContext(context: LlamaContext): NativeContext {
  const ctx = (context as unknown as InternalContext)._ctx;
  if (!ctx || typeof ctx.decodeBatch !== "function" || typeof ctx.addToBatch !== "function") {
    throw new Error(`node-llama-cpp's native context API changed; Nimble supports node-llama-cpp@${SUPPORTED_NODE_LLAMA_CPP}`);
  }
  return ctx;
}

export function nativeEmbeddingContext(context: LlamaContext): NativeEmbeddingContext {
  const ctx = nativeContext(context) as NativeEmbeddingContext;
  if (typeof ctx.getEmbedding !== "function") {
    throw new Error(`node-llama-cpp's native context API changed; Nimble supports node-llama-cpp@${SUPPORTED_NODE_LLAMA_CPP}`);
  }
  return ctx;
}

export function createNativeSampler(model: LlamaModel): NativeSampler {
  const internal = model as unknown as InternalModel;
  const Sampler = internal._llama?._bindings?.AddonSampler;
  if (!Sampler || internal._model == null) {
    throw new Error(`node-llama-cpp's native sampler API changed; Nimble supports node-llama-cpp@${SUPPORTED_NODE_LLAMA_CPP}`);
  }
  return new Sampler(internal._model);
}

/** The options of node-llama-cpp's native context constructor that Nimble sets. */
export interface NativeContextOptions {
  contextSize: number;
  batchSize: number;
  sequences: number;
  threads: number;
  embeddings?: boolean;
  flashAttention?: boolean | "auto";
  performanceTracking?: boolean;
}

/** A native context Nimble creates and owns itself (not through LlamaContext). */
export interface OwnedNativeContext extends NativeContext {
  init(): Promise<boolean>;
  dispose(): Promise<void>;
}

/** node-llama-cpp's native model handle, the one its native context constructor takes. */
export function nativeModelHandle(model: LlamaModel): unknown {
  const handle = (model as unknown as InternalModel)._model;
  if (handle == null) throw new Error(`node-llama-cpp's native model API changed; Nimble supports node-llama-cpp@${SUPPORTED_NODE_LLAMA_CPP}`);
  return handle;
}

/** A new, not yet initialised native context on the model (call init(), then dispose() when done). */
export function createOwnedNativeContext(model: LlamaModel, options: NativeContextOptions): OwnedNativeContext {
  const bindings = (model as unknown as { _llama?: { _bindings?: { AddonContext?: new (model: unknown, options: NativeContextOptions) => OwnedNativeContext } } })._llama?._bindings;
  const Context = bindings?.AddonContext;
  if (!Context) throw new Error(`node-llama-cpp's native context API changed; Nimble supports node-llama-cpp@${SUPPORTED_NODE_LLAMA_CPP}`);
  return new Context(nativeModelHandle(model), options);
}
