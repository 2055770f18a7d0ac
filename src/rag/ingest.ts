/**
 * The ingestion pipeline of one file into one vector store (no HTTP): extract → chunk with the
 * embedding model's tokenizer → drop near-duplicates → redact (optional) → embed in batches →
 * index. The chunks reach the index in one commit at the end, so a file is searchable whole or
 * not at all. Each stage is timed (bench/rag.ts reports where the time goes).
 */
import type { EmbeddingEngine } from "../engine/embedding-engine.js";
import { chunkDocument } from "./chunk.js";
import { extractDocument } from "./extract.js";
import type { ChunkIndex, IndexedChunk } from "./index/types.js";
import type { RagModels } from "./models.js";
import type { Chunk, ChunkingOptions, ExtractedDocument, TextTokenizer } from "./types.js";

/** Steps a deployment can plug in (document processing provides them). */
export interface ChunkProcessors {
  /** Drops near-duplicate chunks (within the store); default: keeps all. */
  dedupe?(storeId: string, chunks: Chunk[]): Chunk[] | Promise<Chunk[]>;
  /** Redacts PII from a chunk's text (stores with redact_pii); default: none. */
  redact?(text: string): string;
}

export interface IngestTimings {
  extractMs: number;
  chunkMs: number;
  embedMs: number;
  indexMs: number;
}

export interface IngestInput {
  storeId: string;
  fileId: string;
  filename: string;
  bytes: Uint8Array;
  mimeType?: string;
  chunking: ChunkingOptions;
  redact?: boolean;
  models: RagModels;
  index: ChunkIndex;
  processors?: ChunkProcessors;
  /** Inputs embedded together per call. */
  embedBatch?: number;
  signal?: AbortSignal;
  onProgress?(p: { chunks: number; embedded: number }): void;
}

export interface IngestResult {
  chunks: number;
  /** The extracted text (sections joined by blank lines), for /content. */
  document: ExtractedDocument;
  timings: IngestTimings;
}

export function engineTokenizer(engine: EmbeddingEngine): TextTokenizer {
  return { encode: (t) => engine.tokenize(t), decode: (tokens) => engine.detokenize(tokens) };
}

/** Chunking fitted to the embedding model: a chunk plus the passage prefix must fit its input. */
export function fitChunking(options: ChunkingOptions, maxInputTokens: number, prefixTokens: number): ChunkingOptions {
  const room = Math.max(16, maxInputTokens - prefixTokens - 2);
  const maxChunkTokens = Math.min(options.maxChunkTokens, room);
  return { maxChunkTokens, overlapTokens: Math.min(options.overlapTokens, Math.floor(maxChunkTokens / 2)) };
}

/** Embeds texts with a prefix, cut to the model's input size, in batches through the engine's batching path. */
export async function embedTexts(engine: EmbeddingEngine, texts: readonly string[], prefix: string, batch = 32, onBatch?: (done: number) => void, signal?: AbortSignal): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  const max = engine.info.maxInputTokens;
  for (let i = 0; i < texts.length; i += batch) {
    signal?.throwIfAborted();
    const inputs = texts.slice(i, i + batch).map((t) => {
      const tokens = engine.tokenize(prefix + t);
      return tokens.length > 0 ? tokens.slice(0, max) : engine.tokenize(prefix + " ");
    });
    out.push(...(await engine.embed(inputs)));
    onBatch?.(out.length);
  }
  return out;
}

export async function ingestFile(input: IngestInput): Promise<IngestResult> {
  const timings: IngestTimings = { extractMs: 0, chunkMs: 0, embedMs: 0, indexMs: 0 };
  let t = performance.now();
  const lap = (key: keyof IngestTimings) => {
    const now = performance.now();
    timings[key] += now - t;
    t = now;
  };
  const document = await extractDocument(input.bytes, input.filename, input.mimeType);
  lap("extractMs");
  const lease = await input.models.embedding();
  try {
    const engine = lease.model;
    const prefix = input.models.prefixes.passage;
    const chunking = fitChunking(input.chunking, engine.info.maxInputTokens, prefix ? engine.tokenize(prefix).length : 0);
    let chunks = chunkDocument(document, engineTokenizer(engine), chunking);
    if (input.processors?.dedupe) chunks = await input.processors.dedupe(input.storeId, chunks);
    if (input.redact && input.processors?.redact) chunks = chunks.map((c) => ({ ...c, text: input.processors!.redact!(c.text) }));
    chunks = chunks.filter((c) => c.text.trim().length > 0);
    lap("chunkMs");
    input.onProgress?.({ chunks: chunks.length, embedded: 0 });
    const vectors = await embedTexts(engine, chunks.map((c) => c.text), prefix, input.embedBatch ?? 32, (embedded) => input.onProgress?.({ chunks: chunks.length, embedded }), input.signal);
    lap("embedMs");
    const rows: IndexedChunk[] = chunks.map((c, i) => ({
      id: `${input.fileId}:${i}`,
      fileId: input.fileId,
      chunkIndex: i,
      text: c.text,
      tokens: c.tokens,
      page: c.page ?? 0,
      headingPath: c.headingPath,
      charStart: c.charStart,
      charEnd: c.charEnd,
      vector: vectors[i]!,
    }));
    input.signal?.throwIfAborted();
    await input.index.addFile(input.storeId, rows);
    lap("indexMs");
    return { chunks: rows.length, document, timings };
  } finally {
    lease.release();
  }
}
