/**
 * What a GGUF file is, read from its header without loading it (node-llama-cpp's readGgufFileInfo
 * and GgufInsights): architecture, size, quantization, context length, kind (chat, embedding,
 * rerank), and for `nimble models inspect` the parameters, tensor types, tokenizer, chat template
 * and memory estimates per context size.
 */
import { stat } from "node:fs/promises";
import { GgmlType, GgufFileType, GgufInsights, readGgufFileInfo, type GgufFileInfo } from "node-llama-cpp";
import { splitParts } from "./hub.js";

export type ModelKind = "chat" | "embedding" | "rerank";

export interface ModelSummary {
  architecture: string;
  /** Bytes on disk, every part of a split file together. */
  sizeBytes: number;
  /** The file type the GGUF declares (Q4_K_M, Q8_0, F16, …), else the most common tensor type. */
  quantization: string;
  contextLength: number | undefined;
  kind: ModelKind;
}

export interface MemoryEstimate {
  contextSize: number;
  /** KV cache and compute buffers of one sequence of this size. */
  contextBytes: number;
  /** The weights plus the above. */
  totalBytes: number;
}

export interface ModelDetails extends ModelSummary {
  name: string | undefined;
  parameters: number;
  layers: number;
  embeddingLength: number | undefined;
  heads: number | undefined;
  kvHeads: number | undefined;
  parts: number;
  tensorCount: number;
  /** Tensor count per ggml type, most frequent first. */
  tensorTypes: { type: string; count: number }[];
  chatTemplate: boolean;
  poolingType: number | undefined;
  tokenizer: { model: string | undefined; pre: string | undefined; vocabSize: number | undefined; bos: string | undefined; eos: string | undefined };
  /** Weights in memory (mmap'ed from the file; RAM on a CPU, VRAM when every layer is offloaded). */
  weightsBytes: number;
  memory: MemoryEstimate[];
}

/** Encoder-only architectures llama.cpp runs as embedding models. */
const EMBEDDING_ARCHITECTURES = new Set(["bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "jina-bert-v3", "neo-bert", "modern-bert", "t5encoder"]);
const POOLING_RANK = 4;

/**
 * Chat, embedding or rerank, from the header alone (the one place this is decided):
 * - rerank: the rank pooling type, or a classification head (`cls.weight`/`cls.output.weight`, as node-llama-cpp's `supportsRanking` looks for);
 * - embedding: a pooling type (generative models declare none), or an encoder-only architecture (BERT family);
 * - chat: everything else.
 */
export function modelKind(info: GgufFileInfo): ModelKind {
  const pooling = poolingTypeOf(info);
  const tensors = info.fullTensorInfo ?? info.tensorInfo ?? [];
  if (pooling === POOLING_RANK || tensors.some((t) => t.name === "cls.weight" || t.name === "cls.output.weight")) return "rerank";
  if ((pooling !== undefined && pooling > 0) || EMBEDDING_ARCHITECTURES.has(String(info.metadata.general?.architecture))) return "embedding";
  return "chat";
}

function poolingTypeOf(info: GgufFileInfo): number | undefined {
  const p = (info.architectureMetadata as { pooling_type?: number }).pooling_type;
  return typeof p === "number" ? p : undefined;
}

/** Big arrays the summary does not need (a 150k-token vocabulary is most of a header). */
const SKIP_FOR_SUMMARY = ["tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges", "tokenizer.ggml.scores"];

async function readInfo(path: string, full: boolean): Promise<GgufFileInfo> {
  try {
    return await readGgufFileInfo(path, { logWarnings: false, ...(full ? {} : { ignoreKeys: SKIP_FOR_SUMMARY }) });
  } catch (err) {
    throw new Error(`cannot read the GGUF header of ${path}: ${(err as Error).message}`);
  }
}

async function diskSize(path: string): Promise<number> {
  let total = 0;
  for (const part of splitParts(path)) total += await stat(part).then((s) => s.size, () => 0);
  return total;
}

function summarize(info: GgufFileInfo, sizeBytes: number): ModelSummary {
  const fileType = info.metadata.general?.file_type;
  const declared = typeof fileType === "number" ? GgufFileType[fileType] : undefined;
  return {
    architecture: String(info.metadata.general?.architecture ?? "unknown"),
    sizeBytes,
    quantization: declared ? declared.replace(/^(MOSTLY|ALL)_/, "") : dominantTensorType(info) ?? "unknown",
    contextLength: info.architectureMetadata.context_length,
    kind: modelKind(info),
  };
}

function dominantTensorType(info: GgufFileInfo): string | undefined {
  return tensorTypeCounts(info)[0]?.type;
}

function tensorTypeCounts(info: GgufFileInfo): { type: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const t of info.fullTensorInfo ?? info.tensorInfo ?? []) {
    const name = GgmlType[t.ggmlType] ?? `type ${t.ggmlType}`;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return [...counts].map(([type, count]) => ({ type, count })).sort((a, b) => b.count - a.count || a.type.localeCompare(b.type));
}

/** The few facts `nimble models ls` shows (header only, vocabulary skipped). */
export async function summarizeModel(path: string): Promise<ModelSummary> {
  return summarize(await readInfo(path, false), await diskSize(path));
}

/** Context sizes to estimate memory for: powers of two from 2048 up to the training context, and the training context. */
export function estimateContextSizes(trainContext: number | undefined): number[] {
  const top = trainContext ?? 4096;
  const sizes: number[] = [];
  for (let c = Math.min(2048, top); c < top && sizes.length < 7; c *= 2) sizes.push(c);
  sizes.push(top);
  return sizes;
}

export async function inspectModel(path: string): Promise<ModelDetails> {
  const info = await readInfo(path, true);
  const insights = await GgufInsights.from(info);
  const arch = info.architectureMetadata as { block_count?: number; embedding_length?: number; attention?: { head_count?: number; head_count_kv?: number } };
  const tokenizer = info.metadata.tokenizer as { ggml?: { model?: string; pre?: string; tokens?: readonly string[]; bos_token_id?: number; eos_token_id?: number }; chat_template?: string } | undefined;
  const tokens = tokenizer?.ggml?.tokens;
  const token = (id: number | undefined) => (id === undefined ? undefined : tokens?.[id]);
  const weightsBytes = insights.modelSize;
  const memory: MemoryEstimate[] = [];
  for (const contextSize of estimateContextSizes(insights.trainContextSize)) {
    const context = await insights.estimateContextResourceRequirementsV2({ contextSize, modelGpuLayers: 0, sequences: 1, batchSize: 512, flashAttention: true });
    const contextBytes = context.cpuRam + context.gpuVram;
    memory.push({ contextSize, contextBytes, totalBytes: weightsBytes + contextBytes });
  }
  return {
    ...summarize(info, await diskSize(path)),
    name: info.metadata.general?.name,
    parameters: insights.totalParameters,
    layers: arch.block_count ?? insights.totalLayers - 1,
    embeddingLength: arch.embedding_length,
    heads: typeof arch.attention?.head_count === "number" ? arch.attention.head_count : undefined,
    kvHeads: typeof arch.attention?.head_count_kv === "number" ? arch.attention.head_count_kv : undefined,
    parts: info.splicedParts,
    tensorCount: Number(info.totalTensorCount),
    tensorTypes: tensorTypeCounts(info),
    chatTemplate: typeof tokenizer?.chat_template === "string" && tokenizer.chat_template.length > 0,
    poolingType: poolingTypeOf(info),
    tokenizer: {
      model: tokenizer?.ggml?.model,
      pre: tokenizer?.ggml?.pre,
      vocabSize: tokens?.length ?? (info.architectureMetadata as { vocab_size?: number }).vocab_size,
      bos: token(tokenizer?.ggml?.bos_token_id),
      eos: token(tokenizer?.ggml?.eos_token_id),
    },
    weightsBytes,
    memory,
  };
}
