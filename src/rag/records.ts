/** What the metadata store keeps for files, vector stores, their files and file batches (OpenAI's objects' fields). */
import { randomBytes } from "node:crypto";
import type { Attributes, ChunkingOptions } from "./types.js";

export function newRagId(prefix: "file" | "vs" | "vsfb"): string {
  return `${prefix}_${randomBytes(12).toString("hex")}`;
}

export interface FileRecord {
  id: string;
  bytes: number;
  created_at: number;
  /** Safe display name: no folders, no control characters (the bytes live under the id). */
  filename: string;
  purpose: string;
  sha256: string;
  mime_type?: string;
}

export type ChunkingStrategy = { type: "static"; static: { max_chunk_size_tokens: number; chunk_overlap_tokens: number } } | { type: "auto" };

export interface StoreRecord {
  id: string;
  created_at: number;
  name: string;
  description?: string | null;
  metadata: Record<string, string>;
  expires_after: { anchor: "last_active_at"; days: number } | null;
  last_active_at: number;
  /** Redact PII from chunks before indexing. */
  redact_pii?: boolean;
}

export type StoreFileStatus = "in_progress" | "completed" | "cancelled" | "failed";
export type ErrorCode = "server_error" | "unsupported_file" | "invalid_file";

export interface StoreFileRecord {
  /** The file's id. */
  id: string;
  vector_store_id: string;
  /** The file's (safe) name, kept here so that search results need no second look-up. */
  filename: string;
  created_at: number;
  status: StoreFileStatus;
  last_error: { code: ErrorCode; message: string } | null;
  attributes: Attributes;
  chunking_strategy: { type: "static"; static: { max_chunk_size_tokens: number; chunk_overlap_tokens: number } };
  usage_bytes: number;
  chunks: number;
  /** The file's content hash: a store does not index the same bytes twice. */
  sha256: string;
  batch_id?: string;
  /** Chunks dropped at ingest as near-duplicates of chunks already in the store (or earlier in the file). */
  duplicate_chunks?: number;
  /** The other files of the store holding what those chunks duplicate (detaching one re-ingests this file). */
  duplicate_of?: string[];
  /** PII replaced by placeholders at ingest (stores with redact_pii). */
  pii_redacted?: number;
}

export interface BatchRecord {
  id: string;
  vector_store_id: string;
  created_at: number;
  file_ids: string[];
  cancelled: boolean;
}

/** The chunking a store file records: auto is 800/400 (OpenAI's). */
export function resolveChunking(strategy: ChunkingStrategy | undefined): StoreFileRecord["chunking_strategy"] {
  if (strategy?.type === "static") return { type: "static", static: { ...strategy.static } };
  return { type: "static", static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 } };
}

export function chunkingOptions(record: StoreFileRecord["chunking_strategy"]): ChunkingOptions {
  return { maxChunkTokens: record.static.max_chunk_size_tokens, overlapTokens: record.static.chunk_overlap_tokens };
}

/** A store file record's key in the metadata store. */
export function storeFileKey(storeId: string, fileId: string): string {
  return `${storeId}/${fileId}`;
}
