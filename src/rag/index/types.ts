/**
 * The two stores behind vector stores, as interfaces: the chunk index (text and vectors, searched by
 * BM25 and by cosine similarity) and the metadata store (files, vector stores, their files and
 * batches). LanceDB + a JSONL log under NIMBLE_HOME by default; PostgreSQL + pgvector for replicas.
 */

import type { StoreFileRecord, StoreFileStatus } from "../records.js";
import type { SearchFilter } from "../types.js";

/** One chunk as the index holds it. */
export interface IndexedChunk {
  /** `<file id>:<chunk index>`. */
  id: string;
  fileId: string;
  chunkIndex: number;
  text: string;
  tokens: number;
  /** 1-based page, or 0 when the format has none. */
  page: number;
  /** The heading path, outermost first. */
  headingPath: string[];
  charStart: number;
  charEnd: number;
  vector: Float32Array;
  /** The chunk's MinHash signature (src/rag/dedupe.ts encodeSignature), kept for near-duplicate detection. */
  signature?: string;
}

/** A chunk's stored MinHash signature (`null`: none stored, e.g. a row from an older build). */
export interface StoredSignature {
  id: string;
  fileId: string;
  signature: string | null;
  /** The chunk's text, given when `signature` is null (the signature is then computed from it). */
  text?: string;
}

/** A hit of one search list, best first. */
export interface IndexHit {
  chunk: Omit<IndexedChunk, "vector" | "signature">;
  /** The list's own score (BM25, or cosine similarity); only the rank is used for fusion. */
  raw: number;
}

export interface ChunkIndex {
  /**
   * Adds all chunks of one file in ONE commit: a reader (or a process restarted after a crash)
   * sees all of them or none.
   */
  addFile(storeId: string, chunks: IndexedChunk[]): Promise<void>;
  /** True when addFile replaces the chunks the file had, in the same commit (PostgreSQL). */
  readonly addReplaces?: boolean;
  /** Removes every chunk of a file in one commit. */
  deleteFile(storeId: string, fileId: string): Promise<void>;
  dropStore(storeId: string): Promise<void>;
  /** BM25 full-text search; `fileIds` restricts the files searched. */
  searchText(storeId: string, query: string, limit: number, fileIds?: readonly string[]): Promise<IndexHit[]>;
  /** Nearest chunks by cosine similarity. */
  searchVector(storeId: string, vector: Float32Array, limit: number, fileIds?: readonly string[]): Promise<IndexHit[]>;
  /**
   * Every chunk's MinHash signature, to rebuild a store's near-duplicate index after a restart. An
   * index without it starts each store's near-duplicate detection empty when the process starts.
   */
  signatures?(storeId: string): Promise<StoredSignature[]>;
  /**
   * The stored signatures of the store's chunks that share an LSH band key (src/rag/dedupe.ts
   * lshBands) with any of `bands`, chunks of `exceptFileId` left out (the file being re-ingested):
   * near-duplicate candidates looked up per file, for an index shared by replicas. With it, the
   * near-duplicate detection sees every chunk committed by any process, and `signatures` is not used.
   */
  duplicateCandidates?(storeId: string, bands: readonly number[], exceptFileId: string): Promise<StoredSignature[]>;
  /** Chunks per file id in the store (crash recovery compares them with the metadata). */
  fileChunkCounts(storeId: string): Promise<Map<string, number>>;
  /** Number of chunks in the store. */
  count(storeId: string): Promise<number>;
  /** Rows added since the last optimize() that full-text search may not see yet (0 when it sees all). */
  unindexedRows?(storeId: string): Promise<number>;
  /** Folds new rows into the full-text and vector indexes (after a burst of ingestion). */
  optimize(storeId: string): Promise<void>;
  close(): Promise<void>;
}

export type MetaKind = "file" | "store" | "store_file" | "batch";

/**
 * Durable records by kind and id. Every put/delete is durable when its promise resolves; a crash
 * leaves each record either as it was or as it was written, never torn.
 */
export interface MetadataStore {
  get<T>(kind: MetaKind, id: string): Promise<T | undefined>;
  /** Records of a kind whose id starts with `prefix`, in insertion order. */
  list<T>(kind: MetaKind, prefix?: string): Promise<T[]>;
  put(kind: MetaKind, id: string, value: unknown): Promise<void>;
  delete(kind: MetaKind, id: string): Promise<void>;
  /**
   * Optional: a store's files (kind "store_file", ids `<store id>/…`) of one status and passing a
   * filter on their attributes, selected by the store itself (SQL) instead of in memory.
   */
  listStoreFiles?(storeId: string, options: { status?: StoreFileStatus; filter?: SearchFilter }): Promise<StoreFileRecord[]>;
  close(): Promise<void>;
}

/**
 * Uploaded files' bytes kept where every replica can read them (PostgreSQL). Optional: without it
 * the bytes live only under <home>/rag/files; with it that folder is a local cache.
 */
export interface FileBlobStore {
  /** Stores the bytes of a file (read from a local path); durable when it resolves. */
  put(fileId: string, path: string): Promise<void>;
  /** The bytes, or undefined when none are stored. */
  get(fileId: string): Promise<Buffer | undefined>;
  delete(fileId: string): Promise<void>;
}

/** Words only (letters and digits): full-text queries must not see query syntax from users. */
export function ftsWords(text: string): string {
  return text.replace(/[^\p{L}\p{N}]+/gu, " ").trim();
}

/** SQL literal of a string (single quotes doubled): for LanceDB's filters, whose API takes SQL text. */
export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
