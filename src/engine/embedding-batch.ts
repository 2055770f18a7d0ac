/**
 * Batched embeddings: inputs from every waiting request are packed into one decode, one sequence
 * per input, as llama.cpp's server does. The batcher queues inputs in arrival order and, while the
 * decoder is free, takes as many as fit (sequences and tokens) into the next decode; inputs that
 * arrive during a decode go into the one after. The native decoder drives a node-llama-cpp context
 * Nimble creates itself, one KV stream per input (attention stays within an input), and pools the
 * token embeddings with the addon (native/embeddings.c, which says why llama.cpp's pooling is not used).
 */
import type { LlamaModel } from "node-llama-cpp";
import { loadAddon, type NimbleAddon } from "./addon.js";
import { createOwnedNativeContext, nativeModelHandle, type OwnedNativeContext } from "./native.js";

/** One decode of several inputs; what the batcher needs, kept narrow so it can be read alone. */
export interface EmbeddingDecoder {
  /** Most inputs in one decode. */
  readonly sequences: number;
  /** Most tokens in one decode (all inputs together); one input never has more. */
  readonly batchSize: number;
  /** The raw (not normalised) embedding of each input, in order. */
  decode(inputs: number[][]): Promise<Float32Array[]>;
  close(): Promise<void>;
}

export interface EmbeddingBatchStats {
  /** Decodes run. */
  decodes: number;
  /** Inputs embedded. */
  inputs: number;
  /** Most inputs one decode held. */
  largestBatch: number;
}

interface Pending {
  tokens: number[];
  resolve(vector: Float32Array): void;
  reject(err: unknown): void;
}

export class EmbeddingBatcher {
  private readonly queue: Pending[] = [];
  private running: Promise<void> | undefined;
  private readonly counters: EmbeddingBatchStats = { decodes: 0, inputs: 0, largestBatch: 0 };

  constructor(private readonly decoder: EmbeddingDecoder) {}

  get stats(): EmbeddingBatchStats {
    return { ...this.counters };
  }

  /** The embedding of each input; inputs longer than the decoder's batch size are rejected. */
  embed(inputs: number[][]): Promise<Float32Array[]> {
    const tooLong = inputs.find((t) => t.length > this.decoder.batchSize || t.length === 0);
    if (tooLong) return Promise.reject(new Error(`An input of ${tooLong.length} tokens does not fit a batch of ${this.decoder.batchSize}.`));
    const vectors = Promise.all(inputs.map((tokens) => new Promise<Float32Array>((resolve, reject) => this.queue.push({ tokens, resolve, reject }))));
    this.start();
    return vectors;
  }

  /** Resolves once every queued input has been embedded. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    await this.idle();
    await this.decoder.close();
  }

  private start(): void {
    if (this.running) return;
    // The first decode waits one turn of the event loop, so requests read in the same turn share it.
    this.running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.loop())
      .finally(() => {
        this.running = undefined;
        if (this.queue.length > 0) this.start();
      });
  }

  private async loop(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.take();
      this.counters.decodes++;
      this.counters.inputs += batch.length;
      this.counters.largestBatch = Math.max(this.counters.largestBatch, batch.length);
      try {
        const vectors = await this.decoder.decode(batch.map((p) => p.tokens));
        batch.forEach((p, i) => p.resolve(vectors[i]!));
      } catch (err) {
        for (const p of batch) p.reject(err);
      }
    }
  }

  /** The next inputs in arrival order, as many as fit one decode. */
  private take(): Pending[] {
    const { sequences, batchSize } = this.decoder;
    let tokens = this.queue[0]!.tokens.length;
    let n = 1;
    while (n < this.queue.length && n < sequences && tokens + this.queue[n]!.tokens.length <= batchSize) tokens += this.queue[n++]!.tokens.length;
    return this.queue.splice(0, n);
  }
}

export interface NativeDecoderOptions {
  /** Most tokens of one input (KV cells of each sequence). */
  inputTokens: number;
  /** Most inputs in one decode (one KV stream each). */
  sequences: number;
  /** Most tokens in one decode; at least inputTokens. */
  batchSize: number;
  threads: number;
}

type EmbeddingAddon = Required<Pick<NimbleAddon, "prepareEmbeddingContext" | "embeddingContextInfo" | "readEmbeddings">>;

/** llama.cpp's pooling types (llama.h) that the decoder pools itself. */
const POOLING = { none: 0, mean: 1, cls: 2, last: 3 } as const;

/** The model's pooling type as its GGUF file says ({arch}.pooling_type); llama.cpp's default is none. */
function modelPooling(model: LlamaModel): number {
  const metadata = model.fileInfo.metadata as unknown as Record<string, Record<string, unknown> | undefined>;
  const arch = model.fileInfo.metadata.general.architecture;
  const value = metadata[arch]?.pooling_type;
  return typeof value === "number" ? value : POOLING.none;
}

/**
 * Decodes a batch on a context of its own: one sequence (and KV stream) per input, token
 * embeddings out, pooled by the addon; each sequence's cells cleared after.
 */
export class NativeEmbeddingDecoder implements EmbeddingDecoder {
  private constructor(
    private readonly ctx: OwnedNativeContext,
    private readonly model: unknown,
    private readonly addon: EmbeddingAddon,
    private readonly pooling: number,
    private readonly dimensions: number,
    readonly batchSize: number,
    readonly sequences: number,
  ) {}

  /** The decoder, or why batching is not available here (the caller then embeds one input at a time). */
  static async create(model: LlamaModel, options: NativeDecoderOptions): Promise<NativeEmbeddingDecoder | string> {
    if (process.env.NIMBLE_NO_EMBEDDING_BATCH === "1") return "disabled by NIMBLE_NO_EMBEDDING_BATCH=1";
    const addon = loadAddon();
    if (typeof addon === "string") return addon;
    if (!addon.prepareEmbeddingContext || !addon.embeddingContextInfo || !addon.readEmbeddings) return "the native addon predates batched embeddings; run npm run build:native";
    const pooling = modelPooling(model);
    if (!Object.values(POOLING).includes(pooling as 0)) return `pooling type ${pooling} is not served batched`;
    const { inputTokens, sequences, threads } = options;
    const batchSize = Math.max(options.batchSize, inputTokens);
    const contextSize = inputTokens * sequences;
    const handle = nativeModelHandle(model);
    // One micro-batch per decode where llama.cpp can (a non-causal model needs a whole input in one).
    const ctx = createOwnedNativeContext(model, {
      contextSize, batchSize, sequences, threads, embeddings: true, flashAttention: "auto", performanceTracking: false,
    });
    const refused = addon.prepareEmbeddingContext(ctx, handle, contextSize, batchSize, sequences);
    if (refused !== undefined) {
      await ctx.dispose();
      return refused;
    }
    if (!(await ctx.init())) {
      await ctx.dispose();
      return "llama.cpp could not create the embedding context";
    }
    const info = addon.embeddingContextInfo(ctx, handle, sequences);
    if (typeof info === "string" || info.cellsPerSequence < inputTokens) {
      await ctx.dispose();
      return typeof info === "string" ? info : `llama.cpp gave each sequence ${info.cellsPerSequence} cells, fewer than ${inputTokens}`;
    }
    return new NativeEmbeddingDecoder(ctx, handle, addon as EmbeddingAddon, pooling, model.embeddingVectorSize, batchSize, sequences);
  }

  async decode(inputs: number[][]): Promise<Float32Array[]> {
    // Longest first: llama.cpp splits a batch of unequal sequences into micro-batches of
    // consecutive sequence ids that still have tokens, so the longer ones must come first.
    const order = inputs.map((_, i) => i).sort((a, b) => inputs[b]!.length - inputs[a]!.length);
    const total = inputs.reduce((n, t) => n + t.length, 0);
    const first = new Int32Array(inputs.length);
    const lengths = new Int32Array(inputs.length);
    this.ctx.initBatch(total);
    let offset = 0;
    order.forEach((input, seq) => {
      const tokens = inputs[input]!;
      // Every token is an output (llama.cpp would override the flags, with a warning).
      this.ctx.addToBatch(seq, 0, Uint32Array.from(tokens), Uint32Array.from(tokens, (_, i) => i));
      first[seq] = offset;
      lengths[seq] = tokens.length;
      offset += tokens.length;
    });
    try {
      await this.ctx.decodeBatch();
      const out = new Float32Array(inputs.length * this.dimensions);
      const failed = this.addon.readEmbeddings(this.ctx, this.model, this.sequences, first, lengths, this.pooling, out);
      if (failed !== undefined) throw new Error(failed);
      const vectors: Float32Array[] = new Array(inputs.length);
      order.forEach((input, seq) => (vectors[input] = out.subarray(seq * this.dimensions, (seq + 1) * this.dimensions)));
      return vectors;
    } finally {
      for (let seq = 0; seq < inputs.length; seq++) this.ctx.removeTokenCellsFromSequence(seq, 0, -1);
    }
  }

  async close(): Promise<void> {
    await this.ctx.dispose();
  }
}
