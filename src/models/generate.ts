/**
 * Generates GGUF models with random (seeded) weights and a byte-level BPE tokenizer: llama
 * chat models, llama embedding models (mean pooling), and BERT rerankers (a classification
 * head with rank pooling, laid out as llama.cpp's converter writes bge-reranker). They produce
 * gibberish, but exercise the real engine end to end.
 */
import { GgmlType, writeGguf, type GgufTensor, type GgufValue } from "./gguf-writer.js";
import { buildByteLevelVocab, CHATML_TEMPLATE } from "./byte-level-vocab.js";
import { Rng } from "./rng.js";

/** What a generated model is for: text generation, embeddings, or reranking query/document pairs. */
export type ModelKind = "chat" | "embedding" | "reranker";

export interface ModelShape {
  /** Default: chat. */
  kind?: ModelKind;
  embeddingSize: number;
  layers: number;
  heads: number;
  kvHeads: number;
  feedForwardSize: number;
  vocabSize: number;
  contextLength: number;
  tensorType: "F32" | "F16" | "Q8_0";
}

export const PRESETS = {
  /** Under 1 MB, generated in milliseconds: for tests. */
  tiny: { embeddingSize: 64, layers: 2, heads: 4, kvHeads: 2, feedForwardSize: 128, vocabSize: 512, contextLength: 4096, tensorType: "F32" },
  /** The built-in demo model `nimble serve` uses when no model is given (~3 MB). */
  demo: { embeddingSize: 128, layers: 4, heads: 4, kvHeads: 2, feedForwardSize: 384, vocabSize: 2048, contextLength: 4096, tensorType: "F16" },
  /** ≈60M parameters, Q8_0: the shape used for benchmarks. */
  bench: { embeddingSize: 576, layers: 12, heads: 9, kvHeads: 3, feedForwardSize: 1536, vocabSize: 16384, contextLength: 8192, tensorType: "Q8_0" },
  /** The tiny llama shape with mean pooling and no chat template: for /v1/embeddings. */
  embedding: { kind: "embedding", embeddingSize: 64, layers: 2, heads: 4, kvHeads: 2, feedForwardSize: 128, vocabSize: 512, contextLength: 4096, tensorType: "F32" },
  /** A tiny BERT cross-encoder with a classification head (rank pooling): for /v1/ranking and /v1/rerank. */
  reranker: { kind: "reranker", embeddingSize: 64, layers: 2, heads: 4, kvHeads: 4, feedForwardSize: 128, vocabSize: 512, contextLength: 512, tensorType: "F32" },
} as const satisfies Record<string, ModelShape>;

export type PresetName = keyof typeof PRESETS;

export interface GenerateOptions {
  shape: ModelShape;
  seed?: number;
  name?: string;
  /** Jinja chat template to store (default: ChatML for chat models, none for the others); null stores none. */
  chatTemplate?: string | null;
  /** llama.cpp pooling type (1 mean, 2 CLS, 3 last, 4 rank); default: none for chat, mean for embedding, rank for reranker. */
  poolingType?: number;
}

const FILE_TYPES: Record<ModelShape["tensorType"], number> = { F32: 0, F16: 1, Q8_0: 7 };
const GGML_TYPES: Record<ModelShape["tensorType"], GgmlType> = { F32: GgmlType.F32, F16: GgmlType.F16, Q8_0: GgmlType.Q8_0 };

export function validateShape(s: ModelShape): void {
  const positive = ["embeddingSize", "layers", "heads", "kvHeads", "feedForwardSize", "vocabSize", "contextLength"] as const;
  for (const k of positive) {
    if (!Number.isInteger(s[k]) || s[k] <= 0) throw new Error(`${k} must be a positive integer, got ${s[k]}`);
  }
  if (s.kind !== undefined && !["chat", "embedding", "reranker"].includes(s.kind)) throw new Error(`kind must be chat, embedding or reranker, got ${s.kind}`);
  if (s.embeddingSize % s.heads !== 0) throw new Error(`embeddingSize (${s.embeddingSize}) must be divisible by heads (${s.heads})`);
  if (s.heads % s.kvHeads !== 0) throw new Error(`heads (${s.heads}) must be divisible by kvHeads (${s.kvHeads})`);
  if (s.kind === "reranker" && s.kvHeads !== s.heads) throw new Error(`a reranker (BERT) has as many key/value heads as heads (${s.heads}), got ${s.kvHeads}`);
  if ((s.embeddingSize / s.heads) % 2 !== 0) throw new Error("head size (embeddingSize / heads) must be even for RoPE");
  if (s.tensorType === "Q8_0" && (s.embeddingSize % 32 !== 0 || s.feedForwardSize % 32 !== 0)) {
    throw new Error("Q8_0 needs embeddingSize and feedForwardSize to be multiples of 32");
  }
}

/** Number of parameters of a shape (embeddings and output counted separately). */
export function parameterCount(s: ModelShape): number {
  const n = s.embeddingSize;
  const ff = s.feedForwardSize;
  if (s.kind === "reranker") {
    const perLayer = 4 * (n * n + n) + 2 * n + (n * ff + ff) + (ff * n + n) + 2 * n;
    return s.vocabSize * n + BERT_TOKEN_TYPES * n + s.contextLength * n + 2 * n + s.layers * perLayer + (n * n + n) + (n + 1);
  }
  const headDim = n / s.heads;
  const kv = s.kvHeads * headDim;
  const perLayer = 2 * n + 2 * n * n + 2 * n * kv + 3 * n * ff;
  return 2 * s.vocabSize * n + n + s.layers * perLayer;
}

/** BERT's "sentence A / sentence B" token types (llama.cpp always feeds type 0). */
const BERT_TOKEN_TYPES = 2;

/** Appends tensors whose values are drawn from the seeded generator (one stream per tensor). */
class TensorList {
  readonly tensors: GgufTensor[] = [];
  constructor(private readonly seed: number) {}
  /** Uniform in [-scale, scale), or all ones / zeros (norm weights and biases). */
  add(name: string, dims: number[], type: GgmlType, scale: number | "ones" | "zeros"): void {
    const index = this.tensors.length;
    const count = dims.reduce((a, b) => a * b, 1);
    const seed = this.seed;
    this.tensors.push({
      name,
      dims,
      type,
      values: () => (scale === "ones" ? new Float32Array(count).fill(1) : scale === "zeros" ? new Float32Array(count) : new Rng(seed * 1000003 + index).fill(count, scale)),
    });
  }
}

/** Writes a model to `path`. Same options and seed → byte-identical file. */
export async function generateModel(path: string, options: GenerateOptions): Promise<void> {
  const shape = options.shape;
  validateShape(shape);
  const kind = shape.kind ?? "chat";
  const seed = options.seed ?? 42;
  const vocab = buildByteLevelVocab(shape.vocabSize, seed);
  const arch = kind === "reranker" ? "bert" : "llama";
  const poolingType = options.poolingType ?? { chat: undefined, embedding: POOLING_MEAN, reranker: POOLING_RANK }[kind];
  const chatTemplate = options.chatTemplate === undefined ? (kind === "chat" ? CHATML_TEMPLATE : null) : options.chatTemplate;

  const metadata: Record<string, GgufValue> = {
    "general.architecture": { type: "string", value: arch },
    "general.name": { type: "string", value: options.name ?? "nimble-random" },
    "general.description": { type: "string", value: "Random-weight model generated by nimble gen-model: its output is gibberish." },
    "general.file_type": { type: "u32", value: FILE_TYPES[shape.tensorType] },
    "general.alignment": { type: "u32", value: 32 },
    [`${arch}.context_length`]: { type: "u32", value: shape.contextLength },
    [`${arch}.embedding_length`]: { type: "u32", value: shape.embeddingSize },
    [`${arch}.block_count`]: { type: "u32", value: shape.layers },
    [`${arch}.feed_forward_length`]: { type: "u32", value: shape.feedForwardSize },
    [`${arch}.attention.head_count`]: { type: "u32", value: shape.heads },
    ...(kind === "reranker" ? bertMetadata() : llamaMetadata(shape)),
    "tokenizer.ggml.model": { type: "string", value: "gpt2" },
    "tokenizer.ggml.pre": { type: "string", value: "gpt-2" },
    "tokenizer.ggml.tokens": { type: "string[]", value: vocab.tokens },
    "tokenizer.ggml.token_type": { type: "i32[]", value: vocab.tokenTypes },
    "tokenizer.ggml.merges": { type: "string[]", value: vocab.merges },
    "tokenizer.ggml.bos_token_id": { type: "u32", value: vocab.bosId },
    "tokenizer.ggml.eos_token_id": { type: "u32", value: vocab.eosId },
    "tokenizer.ggml.eot_token_id": { type: "u32", value: vocab.eotId },
    "tokenizer.ggml.padding_token_id": { type: "u32", value: vocab.padId },
    "tokenizer.ggml.add_bos_token": { type: "bool", value: false },
  };
  if (kind === "reranker") {
    // RoBERTa's pair input, as bge-reranker's GGUF asks for it (BOS query EOS SEP document EOS,
    // SEP = EOS): "<|endoftext|>query<|im_end|><|im_end|>document<|im_end|>".
    metadata["tokenizer.ggml.seperator_token_id"] = { type: "u32", value: vocab.eosId };
    metadata["tokenizer.ggml.add_bos_token"] = { type: "bool", value: true };
    metadata["tokenizer.ggml.add_eos_token"] = { type: "bool", value: true };
    metadata["tokenizer.ggml.add_sep_token"] = { type: "bool", value: true };
    metadata["tokenizer.ggml.token_type_count"] = { type: "u32", value: BERT_TOKEN_TYPES };
  }
  if (poolingType !== undefined) metadata[`${arch}.pooling_type`] = { type: "u32", value: poolingType };
  if (chatTemplate !== null) metadata["tokenizer.chat_template"] = { type: "string", value: chatTemplate };

  const tensors = new TensorList(seed);
  if (kind === "reranker") addBertTensors(tensors, shape);
  else addLlamaTensors(tensors, shape);
  await writeGguf(path, metadata, tensors.tensors);
}

const POOLING_MEAN = 1;
const POOLING_RANK = 4;

function llamaMetadata(shape: ModelShape): Record<string, GgufValue> {
  return {
    "llama.attention.head_count_kv": { type: "u32", value: shape.kvHeads },
    "llama.rope.dimension_count": { type: "u32", value: shape.embeddingSize / shape.heads },
    "llama.rope.freq_base": { type: "f32", value: 10000 },
    "llama.attention.layer_norm_rms_epsilon": { type: "f32", value: 1e-5 },
    "llama.vocab_size": { type: "u32", value: shape.vocabSize },
  };
}

function bertMetadata(): Record<string, GgufValue> {
  return {
    "bert.attention.layer_norm_epsilon": { type: "f32", value: 1e-12 },
    "bert.attention.causal": { type: "bool", value: false },
  };
}

function addLlamaTensors(t: TensorList, shape: ModelShape): void {
  const n = shape.embeddingSize;
  const kvDim = shape.kvHeads * (n / shape.heads);
  const ff = shape.feedForwardSize;
  const w = GGML_TYPES[shape.tensorType];
  const matrix = 1 / Math.sqrt(n);
  t.add("token_embd.weight", [n, shape.vocabSize], w, 1);
  for (let l = 0; l < shape.layers; l++) {
    t.add(`blk.${l}.attn_norm.weight`, [n], GgmlType.F32, "ones");
    t.add(`blk.${l}.attn_q.weight`, [n, n], w, matrix);
    t.add(`blk.${l}.attn_k.weight`, [n, kvDim], w, matrix);
    t.add(`blk.${l}.attn_v.weight`, [n, kvDim], w, matrix);
    t.add(`blk.${l}.attn_output.weight`, [n, n], w, matrix);
    t.add(`blk.${l}.ffn_norm.weight`, [n], GgmlType.F32, "ones");
    t.add(`blk.${l}.ffn_gate.weight`, [n, ff], w, matrix);
    t.add(`blk.${l}.ffn_up.weight`, [n, ff], w, matrix);
    t.add(`blk.${l}.ffn_down.weight`, [ff, n], w, 1 / Math.sqrt(ff));
  }
  t.add("output_norm.weight", [n], GgmlType.F32, "ones");
  t.add("output.weight", [n, shape.vocabSize], w, 4 * matrix);
}

/**
 * A BERT encoder (post-layer-norm, GELU feed-forward, learned positions) with the sequence
 * classification head llama.cpp's rank pooling applies to the first token: cls (dense + tanh)
 * then cls.output (one logit), the names llama.cpp's converter gives bge-reranker's head.
 */
function addBertTensors(t: TensorList, shape: ModelShape): void {
  const n = shape.embeddingSize;
  const ff = shape.feedForwardSize;
  const w = GGML_TYPES[shape.tensorType];
  const matrix = 1 / Math.sqrt(n);
  const bias = (name: string, size: number) => t.add(name, [size], GgmlType.F32, 0.1);
  const norm = (name: string) => {
    t.add(`${name}.weight`, [n], GgmlType.F32, "ones");
    t.add(`${name}.bias`, [n], GgmlType.F32, "zeros");
  };
  t.add("token_embd.weight", [n, shape.vocabSize], w, 1);
  t.add("token_types.weight", [n, BERT_TOKEN_TYPES], GgmlType.F32, 0.1);
  t.add("position_embd.weight", [n, shape.contextLength], GgmlType.F32, 0.5);
  norm("token_embd_norm");
  for (let l = 0; l < shape.layers; l++) {
    for (const m of ["attn_q", "attn_k", "attn_v", "attn_output"]) {
      t.add(`blk.${l}.${m}.weight`, [n, n], w, matrix);
      bias(`blk.${l}.${m}.bias`, n);
    }
    norm(`blk.${l}.attn_output_norm`);
    t.add(`blk.${l}.ffn_up.weight`, [n, ff], w, matrix);
    bias(`blk.${l}.ffn_up.bias`, ff);
    t.add(`blk.${l}.ffn_down.weight`, [ff, n], w, 1 / Math.sqrt(ff));
    bias(`blk.${l}.ffn_down.bias`, n);
    norm(`blk.${l}.layer_output_norm`);
  }
  t.add("cls.weight", [n, n], w, 2 * matrix);
  bias("cls.bias", n);
  t.add("cls.output.weight", [n, 1], GgmlType.F32, 4 * matrix);
  bias("cls.output.bias", 1);
}

export interface LoraOptions {
  /** The shape of the base model the adapter is for. */
  shape: ModelShape;
  seed?: number;
  /** Rank of the low-rank update (default 8). */
  rank?: number;
  /** LoRA alpha (default: the rank, so the update is applied at scale 1). */
  alpha?: number;
  name?: string;
}

/**
 * Writes a LoRA adapter GGUF (llama.cpp's format) for a generated model: random low-rank updates
 * of every block's query and value projections and of the output projection, strong enough that
 * the adapted model's greedy output differs from the base model's. Same options → same bytes.
 */
export async function generateLora(path: string, options: LoraOptions): Promise<void> {
  const shape = options.shape;
  validateShape(shape);
  const seed = options.seed ?? 7;
  const rank = options.rank ?? 8;
  if (!Number.isInteger(rank) || rank <= 0) throw new Error(`rank must be a positive integer, got ${rank}`);
  const n = shape.embeddingSize;
  const kvDim = shape.kvHeads * (n / shape.heads);
  const metadata: Record<string, GgufValue> = {
    "general.architecture": { type: "string", value: "llama" },
    "general.type": { type: "string", value: "adapter" },
    "general.name": { type: "string", value: options.name ?? "nimble-random-lora" },
    "general.alignment": { type: "u32", value: 32 },
    "adapter.type": { type: "string", value: "lora" },
    "adapter.lora.alpha": { type: "f32", value: options.alpha ?? rank },
  };
  const tensors: GgufTensor[] = [];
  // ggml dimension order: a base weight is [inputs, outputs]; its update is B·A with A [inputs, rank], B [rank, outputs].
  const update = (base: string, inputs: number, outputs: number, strength: number) => {
    for (const [suffix, dims, scale] of [["lora_a", [inputs, rank], 1 / Math.sqrt(inputs)], ["lora_b", [rank, outputs], strength / Math.sqrt(rank)]] as const) {
      const index = tensors.length;
      const count = dims[0] * dims[1];
      tensors.push({ name: `${base}.${suffix}`, dims: [...dims], type: GgmlType.F32, values: () => new Rng(seed * 7919 + index).fill(count, scale) });
    }
  };
  for (let l = 0; l < shape.layers; l++) {
    update(`blk.${l}.attn_q.weight`, n, n, 1);
    update(`blk.${l}.attn_v.weight`, n, kvDim, 1);
  }
  update("output.weight", n, shape.vocabSize, 8);
  await writeGguf(path, metadata, tensors);
}
