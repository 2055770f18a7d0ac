/**
 * The ingestion pipeline of one file into one vector store (no HTTP): extract → redact PII
 * (stores with redact_pii; before chunking, so offsets and citations refer to the redacted text) →
 * chunk with the embedding model's tokenizer → drop near-duplicates (of chunks in the store or
 * earlier in the file) → embed in batches → index. The chunks reach the index in one commit at the end, so a file is searchable whole or
 * not at all. Each stage is timed (bench/rag.ts reports where the time goes).
 */
import type { EmbeddingEngine } from "../engine/embedding-engine.js";
import { chunkDocument } from "./chunk.js";
import { extractDocument } from "./extract.js";
import type { DedupeResult } from "./dedupe.js";
import type { ChunkIndex, IndexedChunk } from "./index/types.js";
import type { RagModels } from "./models.js";
import { redactDocument, type PiiCounts } from "./redact.js";
import type { Chunk, ChunkingOptions, ExtractedDocument, TextTokenizer } from "./types.js";

/** Drops near-duplicate chunks (src/rag/dedupe.ts StoreDeduplicator.filter, bound to a store and file). */
export type ChunkDeduper = (chunks: readonly Chunk[]) => Promise<DedupeResult<Chunk>>;

export interface IngestTimings {
  extractMs: number;
  /** PII redaction (0 unless the store redacts). */
  redactMs: number;
  chunkMs: number;
  /** Near-duplicate detection (MinHash of every chunk). */
  dedupeMs: number;
  embedMs: number;
  indexMs: number;
}

export const INGEST_STAGES = ["extractMs", "redactMs", "chunkMs", "dedupeMs", "embedMs", "indexMs"] as const;

export interface IngestInput {
  storeId: string;
  fileId: string;
  filename: string;
  bytes: Uint8Array;
  mimeType?: string;
  chunking: ChunkingOptions;
  /** Redact PII from the extracted text before chunking (the store's redact_pii). */
  redact?: boolean;
  /** Near-duplicate filter; without it every chunk is kept. */
  dedupe?: ChunkDeduper;
  models: RagModels;
  index: ChunkIndex;
  /** Inputs embedded together per call. */
  embedBatch?: number;
  signal?: AbortSignal;
  onProgress?(p: { chunks: number; embedded: number }): void;
}

export interface IngestResult {
  chunks: number;
  /** Chunks dropped as near-duplicates. */
  duplicates: number;
  /** Other files of the store whose chunks the dropped ones duplicate. */
  duplicateOf: string[];
  /** What redaction replaced (undefined when the store does not redact). */
  redacted?: PiiCounts;
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
  const timings: IngestTimings = { extractMs: 0, redactMs: 0, chunkMs: 0, dedupeMs: 0, embedMs: 0, indexMs: 0 };
  let t = performance.now();
  const lap = (key: keyof IngestTimings) => {
    const now = performance.now();
    timings[key] += now - t;
    t = now;
  };
  let document = await extractDocument(input.bytes, input.filename, input.mimeType);
  lap("extractMs");
  let redacted: PiiCounts | undefined;
  if (input.redact) {
    ({ doc: document, counts: redacted } = redactDocument(document));
    lap("redactMs");
  }
  const lease = await input.models.embedding();
  try {
    const engine = lease.model;
    const prefix = input.models.prefixes.passage;
    const chunking = fitChunking(input.chunking, engine.info.maxInputTokens, prefix ? engine.tokenize(prefix).length : 0);
    let chunks = chunkDocument(document, engineTokenizer(engine), chunking).filter((c) => c.text.trim().length > 0);
    lap("chunkMs");
    input.signal?.throwIfAborted();
    const deduped: DedupeResult<Chunk> = input.dedupe ? await input.dedupe(chunks) : { kept: chunks, signatures: [], dropped: 0, duplicateOf: [] };
    chunks = deduped.kept;
    lap("dedupeMs");
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
      ...(deduped.signatures[i] ? { signature: deduped.signatures[i] } : {}),
    }));
    input.signal?.throwIfAborted();
    await input.index.addFile(input.storeId, rows);
    lap("indexMs");
    return { chunks: rows.length, duplicates: deduped.dropped, duplicateOf: deduped.duplicateOf, ...(redacted ? { redacted } : {}), document, timings };
  } finally {
    lease.release();
  }
}
