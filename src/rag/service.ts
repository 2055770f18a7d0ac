/**
 * Vector stores and files, in process (no HTTP): the records, the stored file bytes, the ingestion
 * queue and the retriever. The HTTP routes (src/api/openai/) and the library call it.
 *
 * Crash safety: a file's chunks reach the index in one commit and its record turns "completed"
 * after; search returns chunks of completed files only. On open, files left "in_progress" by a
 * crash have any chunks removed and are queued again, and chunks of files no record knows are
 * removed, so every file is either fully indexed or absent.
 */
import { createHash } from "node:crypto";
import { createWriteStream, mkdirSync } from "node:fs";
import { readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { matchesFilter } from "./filters.js";
import { DEFAULT_DUPLICATE_THRESHOLD, StoreDeduplicator } from "./dedupe.js";
import { INGEST_STAGES, ingestFile, type IngestTimings } from "./ingest.js";
import type { ChunkIndex, FileBlobStore, MetadataStore } from "./index/types.js";
import { NoEmbeddingModelError, type RagModels } from "./models.js";
import { chunkingOptions, newRagId, resolveChunking, storeFileKey, type BatchRecord, type ChunkingStrategy, type ErrorCode, type FileRecord, type StoreFileRecord, type StoreFileStatus, type StoreRecord } from "./records.js";
import { HybridRetriever } from "./retriever.js";
import { redactDocument } from "./redact.js";
import { ExtractError, type Attributes, type ExtractedDocument } from "./types.js";

export class RagNotFoundError extends Error {
  constructor(readonly what: "file" | "vector_store" | "vector_store.file" | "vector_store.file_batch", readonly id: string) {
    super(`No ${what.replace(/_/g, " ").replace(".", " ")} found with id '${id}'.`);
    this.name = "RagNotFoundError";
  }
}

export interface FileCounts {
  in_progress: number;
  completed: number;
  failed: number;
  cancelled: number;
  total: number;
}

/** A display name that is safe to show and store: the last path segment, no control characters. */
export function safeFilename(name: string): string {
  const base = name.replace(/[\u0000-\u001f\u007f]/g, "").split(/[\\/]/).filter((s) => s !== "" && s !== "." && s !== "..").pop() ?? "";
  return base.slice(0, 255) || "file";
}

export function countFiles(files: readonly StoreFileRecord[]): FileCounts {
  const counts: FileCounts = { in_progress: 0, completed: 0, failed: 0, cancelled: 0, total: files.length };
  for (const f of files) counts[f.status]++;
  return counts;
}

export interface RagServiceOptions {
  /** Folder for the stored files' bytes. */
  filesDir: string;
  meta: MetadataStore;
  index: ChunkIndex;
  /** Shared file bytes (PostgreSQL): filesDir is then a cache of them. */
  blobs?: FileBlobStore;
  models: RagModels;
  /**
   * Near-duplicate chunks within a store are dropped at ingest: estimated Jaccard similarity of
   * their character 5-gram sets ≥ threshold (default 0.8, src/rag/dedupe.ts). `false` keeps all.
   */
  dedupe?: false | { threshold?: number };
  /** Files ingested at once (default 1: embedding already uses the cores). */
  concurrency?: number;
}

export interface StagedUpload {
  tmp: string;
  bytes: number;
  sha256: string;
}

interface Job {
  storeId: string;
  fileId: string;
  abort: AbortController;
}

export class RagService {
  readonly retriever: HybridRetriever;
  /** Totals of the ingestion stages since start (bench/rag.ts). */
  readonly timings: IngestTimings & { chunks: number; duplicates: number; files: number } = { extractMs: 0, redactMs: 0, chunkMs: 0, dedupeMs: 0, embedMs: 0, indexMs: 0, chunks: 0, duplicates: 0, files: 0 };
  private readonly duplicates: StoreDeduplicator | undefined;
  private readonly queue: Job[] = [];
  private readonly running = new Map<string, Job>();
  private readonly touched = new Set<string>();
  private idleWaiters: (() => void)[] = [];
  private closed = false;

  private constructor(private readonly options: RagServiceOptions) {
    mkdirSync(options.filesDir, { recursive: true });
    const { index } = options;
    if (options.dedupe !== false) this.duplicates = new StoreDeduplicator(index, options.dedupe?.threshold ?? DEFAULT_DUPLICATE_THRESHOLD);
    this.retriever = new HybridRetriever({
      index: options.index,
      models: options.models,
      searchableFiles: async (storeId, filter) => {
        const { meta } = this.options;
        if (meta.listStoreFiles) return meta.listStoreFiles(storeId, { status: "completed", ...(filter ? { filter } : {}) });
        return (await this.storeFiles(storeId)).filter((f) => f.status === "completed" && (!filter || matchesFilter(f.attributes, filter)));
      },
      touch: async (storeId) => {
        const store = await this.options.meta.get<StoreRecord>("store", storeId);
        if (store) await this.options.meta.put("store", storeId, { ...store, last_active_at: now() });
      },
    });
  }

  static async open(options: RagServiceOptions): Promise<RagService> {
    const service = new RagService(options);
    await service.recover();
    return service;
  }

  get models(): RagModels {
    return this.options.models;
  }

  get meta(): MetadataStore {
    return this.options.meta;
  }

  /** Brings index and records back in line after a crash (see the module comment). */
  private async recover(): Promise<void> {
    const { meta, index } = this.options;
    for (const name of await readdir(this.options.filesDir)) {
      // Partial uploads; with shared bytes, also cached copies of files deleted through another replica.
      if (name.endsWith(".part") || (this.options.blobs && !(await meta.get("file", name)))) await rm(join(this.options.filesDir, name), { force: true });
    }
    for (const store of await meta.list<StoreRecord>("store")) {
      const files = await this.storeFiles(store.id);
      const known = new Set(files.map((f) => f.id));
      for (const id of (await index.fileChunkCounts(store.id)).keys()) if (!known.has(id)) await this.removeChunks(store.id, id);
      for (const f of files.filter((f) => f.status === "in_progress")) {
        // An index whose addFile replaces keeps them meanwhile: another replica may be finishing this file.
        if (!index.addReplaces) await this.removeChunks(store.id, f.id);
        this.enqueue(store.id, f.id);
      }
    }
  }

  /** Removes a file's chunks from the index and from the store's near-duplicate index. */
  private async removeChunks(storeId: string, fileId: string): Promise<void> {
    await this.duplicates?.forgetFile(storeId, fileId);
    await this.options.index.deleteFile(storeId, fileId);
  }

  // ---- Files ----

  /** Streams an upload to a temporary file, hashing it on the way (commitUpload makes it a File). */
  async stageUpload(source: Readable | AsyncIterable<Uint8Array>): Promise<StagedUpload> {
    const tmp = join(this.options.filesDir, `${newRagId("file")}.part`);
    const hash = createHash("sha256");
    let bytes = 0;
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Uint8Array>) {
          for await (const c of chunks) {
            hash.update(c);
            bytes += c.length;
            yield c;
          }
        },
        createWriteStream(tmp),
      );
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return { tmp, bytes, sha256: hash.digest("hex") };
  }

  async discardUpload(staged: StagedUpload): Promise<void> {
    await rm(staged.tmp, { force: true });
  }

  /** Renames a staged upload under its id and records it. */
  async commitUpload(staged: StagedUpload, filename: string, purpose: string, mimeType?: string): Promise<FileRecord> {
    const id = newRagId("file");
    const path = join(this.options.filesDir, id);
    await rename(staged.tmp, path);
    // Shared bytes first: a record other replicas can see always has its bytes.
    await this.options.blobs?.put(id, path);
    const record: FileRecord = { id, bytes: staged.bytes, created_at: now(), filename: safeFilename(filename), purpose, sha256: staged.sha256, ...(mimeType ? { mime_type: mimeType } : {}) };
    await this.options.meta.put("file", id, record);
    return record;
  }

  /** Stores a file (stageUpload then commitUpload). */
  async createFile(source: Readable | AsyncIterable<Uint8Array>, filename: string, purpose: string, mimeType?: string): Promise<FileRecord> {
    return this.commitUpload(await this.stageUpload(source), filename, purpose, mimeType);
  }

  async listFiles(purpose?: string): Promise<FileRecord[]> {
    const all = await this.options.meta.list<FileRecord>("file");
    return purpose ? all.filter((f) => f.purpose === purpose) : all;
  }

  async getFile(id: string): Promise<FileRecord> {
    const f = await this.options.meta.get<FileRecord>("file", id);
    if (!f) throw new RagNotFoundError("file", id);
    return f;
  }

  async fileBytes(id: string): Promise<Buffer> {
    await this.getFile(id);
    const path = join(this.options.filesDir, id);
    try {
      return await readFile(path);
    } catch (err) {
      const bytes = (err as NodeJS.ErrnoException).code === "ENOENT" ? await this.options.blobs?.get(id) : undefined;
      if (!bytes) throw err;
      // Uploaded through another replica: cached here (temporary file, then an atomic rename).
      const tmp = `${path}.${newRagId("file")}.part`;
      await writeFile(tmp, bytes);
      await rename(tmp, path);
      return bytes;
    }
  }

  /** Deletes a file, and removes it from every vector store. */
  async deleteFile(id: string): Promise<void> {
    await this.getFile(id);
    for (const store of await this.options.meta.list<StoreRecord>("store")) {
      if (await this.options.meta.get("store_file", storeFileKey(store.id, id))) await this.detachFile(store.id, id);
    }
    await this.options.meta.delete("file", id);
    await this.options.blobs?.delete(id);
    await rm(join(this.options.filesDir, id), { force: true });
  }

  // ---- Vector stores ----

  async createStore(params: { name?: string | null; description?: string | null; metadata?: Record<string, string> | null; expires_after?: StoreRecord["expires_after"]; file_ids?: string[]; chunking_strategy?: ChunkingStrategy; redact_pii?: boolean }): Promise<StoreRecord> {
    if (params.file_ids?.length) {
      this.requireEmbedding();
      for (const id of params.file_ids) await this.getFile(id);
    }
    const record: StoreRecord = {
      id: newRagId("vs"),
      created_at: now(),
      name: params.name ?? "",
      description: params.description ?? null,
      metadata: params.metadata ?? {},
      expires_after: params.expires_after ?? null,
      last_active_at: now(),
      ...(params.redact_pii ? { redact_pii: true } : {}),
    };
    await this.options.meta.put("store", record.id, record);
    for (const id of params.file_ids ?? []) await this.attachFile(record.id, id, {}, params.chunking_strategy);
    return record;
  }

  async listStores(): Promise<StoreRecord[]> {
    return this.options.meta.list<StoreRecord>("store");
  }

  /** A store by id, or by name (the newest of that name) for the CLI and the `rag:<store>` alias. */
  async getStore(idOrName: string): Promise<StoreRecord> {
    const byId = await this.options.meta.get<StoreRecord>("store", idOrName);
    if (byId) return byId;
    const named = (await this.listStores()).filter((s) => s.name === idOrName);
    if (named.length > 0) return named[named.length - 1]!;
    throw new RagNotFoundError("vector_store", idOrName);
  }

  async updateStore(id: string, params: { name?: string | null; metadata?: Record<string, string> | null; expires_after?: StoreRecord["expires_after"] }): Promise<StoreRecord> {
    const store = await this.getStore(id);
    const updated: StoreRecord = {
      ...store,
      ...(params.name !== undefined ? { name: params.name ?? "" } : {}),
      ...(params.metadata !== undefined ? { metadata: params.metadata ?? {} } : {}),
      ...(params.expires_after !== undefined ? { expires_after: params.expires_after } : {}),
      last_active_at: now(),
    };
    await this.options.meta.put("store", store.id, updated);
    return updated;
  }

  async deleteStore(id: string): Promise<string> {
    const store = await this.getStore(id);
    // Records first: searches stop seeing the store at once.
    await this.options.meta.delete("store", store.id);
    for (const f of await this.storeFiles(store.id)) {
      this.cancelJob(store.id, f.id);
      await this.options.meta.delete("store_file", storeFileKey(store.id, f.id));
    }
    for (const b of await this.options.meta.list<BatchRecord>("batch", `${store.id}/`)) await this.options.meta.delete("batch", `${store.id}/${b.id}`);
    this.duplicates?.dropStore(store.id);
    await this.options.index.dropStore(store.id);
    return store.id;
  }

  async storeFiles(storeId: string): Promise<StoreFileRecord[]> {
    return this.options.meta.list<StoreFileRecord>("store_file", `${storeId}/`);
  }

  /** The store as OpenAI's VectorStore object. */
  async storeObject(store: StoreRecord): Promise<Record<string, unknown> & { id: string }> {
    const files = await this.storeFiles(store.id);
    const counts = countFiles(files);
    const expiresAt = store.expires_after ? store.last_active_at + store.expires_after.days * 86400 : null;
    return {
      id: store.id,
      object: "vector_store",
      created_at: store.created_at,
      name: store.name,
      description: store.description ?? null,
      usage_bytes: files.reduce((n, f) => n + f.usage_bytes, 0),
      file_counts: counts,
      status: expiresAt !== null && expiresAt < now() ? "expired" : counts.in_progress > 0 ? "in_progress" : "completed",
      expires_after: store.expires_after,
      expires_at: expiresAt,
      last_active_at: store.last_active_at,
      metadata: store.metadata,
      /** Nimble: PII is redacted from this store's chunks before indexing. */
      redact_pii: store.redact_pii === true,
    };
  }

  // ---- Files of a store ----

  private requireEmbedding(): void {
    if (!this.options.models.hasEmbedding()) throw new NoEmbeddingModelError();
  }

  /** Attaches a file and queues its ingestion (status in_progress). Attaching it again re-ingests it. */
  async attachFile(storeId: string, fileId: string, attributes: Attributes = {}, chunking?: ChunkingStrategy, batchId?: string): Promise<StoreFileRecord> {
    this.requireEmbedding();
    const store = await this.getStore(storeId);
    const file = await this.getFile(fileId);
    const key = storeFileKey(store.id, fileId);
    const previous = await this.options.meta.get<StoreFileRecord>("store_file", key);
    if (previous) {
      this.cancelJob(store.id, fileId);
      await this.removeChunks(store.id, fileId);
    }
    const reattached = previous !== undefined;
    const record: StoreFileRecord = {
      id: fileId,
      vector_store_id: store.id,
      filename: file.filename,
      created_at: now(),
      status: "in_progress",
      last_error: null,
      attributes,
      chunking_strategy: resolveChunking(chunking),
      usage_bytes: 0,
      chunks: 0,
      sha256: file.sha256,
      ...(batchId ? { batch_id: batchId } : {}),
    };
    await this.options.meta.put("store_file", key, record);
    if (reattached) await this.reingestDuplicatesOf(store.id, fileId);
    this.enqueue(store.id, fileId);
    return record;
  }

  async getStoreFile(storeId: string, fileId: string): Promise<StoreFileRecord> {
    const store = await this.getStore(storeId);
    const record = await this.options.meta.get<StoreFileRecord>("store_file", storeFileKey(store.id, fileId));
    if (!record) throw new RagNotFoundError("vector_store.file", fileId);
    return record;
  }

  async updateStoreFile(storeId: string, fileId: string, attributes: Attributes): Promise<StoreFileRecord> {
    const record = await this.getStoreFile(storeId, fileId);
    const updated = { ...record, attributes };
    await this.options.meta.put("store_file", storeFileKey(record.vector_store_id, fileId), updated);
    return updated;
  }

  /**
   * Detaches a file from a store: its chunks leave search results at once (the record goes first).
   * Files whose chunks were dropped as near-duplicates of this file's are ingested again, so their
   * text stays findable.
   */
  async detachFile(storeId: string, fileId: string): Promise<void> {
    const record = await this.getStoreFile(storeId, fileId);
    const store = record.vector_store_id;
    this.cancelJob(store, fileId);
    await this.options.meta.delete("store_file", storeFileKey(store, fileId));
    await this.removeChunks(store, fileId);
    await this.reingestDuplicatesOf(store, fileId);
  }

  /** Ingests again the completed files whose chunks were dropped as near-duplicates of this file's (which are leaving). */
  private async reingestDuplicatesOf(storeId: string, fileId: string): Promise<void> {
    if (!this.options.models.hasEmbedding()) return;
    for (const f of await this.storeFiles(storeId)) {
      if (f.status === "completed" && f.duplicate_of?.includes(fileId)) await this.attachFile(storeId, f.id, f.attributes, f.chunking_strategy, f.batch_id);
    }
  }

  /** The parsed text of a store's file (extracted again from the stored bytes). */
  async storeFileContent(storeId: string, fileId: string): Promise<ExtractedDocument> {
    const record = await this.getStoreFile(storeId, fileId);
    const store = await this.getStore(record.vector_store_id);
    const file = await this.getFile(fileId);
    const { extractDocument } = await import("./extract.js");
    const doc = await extractDocument(await this.fileBytes(fileId), file.filename, file.mime_type);
    return store.redact_pii ? redactDocument(doc).doc : doc;
  }

  // ---- Batches ----

  async createBatch(storeId: string, files: { file_id: string; attributes?: Attributes; chunking_strategy?: ChunkingStrategy }[]): Promise<BatchRecord> {
    this.requireEmbedding();
    const store = await this.getStore(storeId);
    for (const f of files) await this.getFile(f.file_id);
    const batch: BatchRecord = { id: newRagId("vsfb"), vector_store_id: store.id, created_at: now(), file_ids: files.map((f) => f.file_id), cancelled: false };
    await this.options.meta.put("batch", `${store.id}/${batch.id}`, batch);
    for (const f of files) await this.attachFile(store.id, f.file_id, f.attributes ?? {}, f.chunking_strategy, batch.id);
    return batch;
  }

  async getBatch(storeId: string, batchId: string): Promise<BatchRecord> {
    const store = await this.getStore(storeId);
    const batch = await this.options.meta.get<BatchRecord>("batch", `${store.id}/${batchId}`);
    if (!batch) throw new RagNotFoundError("vector_store.file_batch", batchId);
    return batch;
  }

  async batchFiles(batch: BatchRecord): Promise<StoreFileRecord[]> {
    return (await this.storeFiles(batch.vector_store_id)).filter((f) => f.batch_id === batch.id);
  }

  /** Cancels the batch's files that are not done yet. */
  async cancelBatch(storeId: string, batchId: string): Promise<BatchRecord> {
    const batch = await this.getBatch(storeId, batchId);
    for (const f of await this.batchFiles(batch)) {
      if (f.status !== "in_progress") continue;
      this.cancelJob(batch.vector_store_id, f.id);
      await this.options.meta.put("store_file", storeFileKey(batch.vector_store_id, f.id), { ...f, status: "cancelled" });
      await this.removeChunks(batch.vector_store_id, f.id);
    }
    const updated = { ...batch, cancelled: true };
    await this.options.meta.put("batch", `${batch.vector_store_id}/${batch.id}`, updated);
    return updated;
  }

  /** OpenAI's batch object. */
  async batchObject(batch: BatchRecord): Promise<Record<string, unknown>> {
    const counts = countFiles(await this.batchFiles(batch));
    const status = counts.in_progress > 0 ? (batch.cancelled ? "cancelling" : "in_progress") : batch.cancelled ? "cancelled" : counts.failed > 0 && counts.completed === 0 ? "failed" : "completed";
    return { id: batch.id, object: "vector_store.files_batch", created_at: batch.created_at, vector_store_id: batch.vector_store_id, status, file_counts: counts };
  }

  // ---- Ingestion queue ----

  private enqueue(storeId: string, fileId: string): void {
    this.queue.push({ storeId, fileId, abort: new AbortController() });
    this.pump();
  }

  private cancelJob(storeId: string, fileId: string): void {
    const key = storeFileKey(storeId, fileId);
    this.running.get(key)?.abort.abort();
    const i = this.queue.findIndex((j) => j.storeId === storeId && j.fileId === fileId);
    if (i >= 0) this.queue.splice(i, 1);
  }

  private pump(): void {
    while (!this.closed && this.running.size < (this.options.concurrency ?? 1) && this.queue.length > 0) {
      const job = this.queue.shift()!;
      const key = storeFileKey(job.storeId, job.fileId);
      this.running.set(key, job);
      void this.run(job).finally(() => {
        this.running.delete(key);
        this.pump();
        if (this.running.size === 0 && this.queue.length === 0) void this.settle();
      });
    }
  }

  /** Folds new rows into the indexes once the queue is empty, then wakes waitIdle(). */
  private async settle(): Promise<void> {
    for (const storeId of [...this.touched]) {
      this.touched.delete(storeId);
      await this.options.index.optimize(storeId).catch(() => {});
    }
    if (this.running.size === 0 && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * Folds freshly added rows into the full-text index before their file turns "completed" (LanceDB's
   * BM25 search may not see rows added after the index was built). Optimizing rewrites the table,
   * so during a long ingest it runs when the new rows reach a quarter of the table (amortised
   * linear cost), and always when the queue drains (settle()).
   */
  private async foldIndex(storeId: string): Promise<void> {
    const { index } = this.options;
    const pending = (await index.unindexedRows?.(storeId)) ?? 0;
    if (pending === 0) return;
    const total = await index.count(storeId);
    if (this.queue.length === 0 || pending * 4 >= total) await index.optimize(storeId).catch(() => {});
  }

  /** Resolves when no file is waiting or being ingested. */
  waitIdle(): Promise<void> {
    if (this.running.size === 0 && this.queue.length === 0 && this.touched.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async finish(job: Job, status: StoreFileStatus, fields: Partial<StoreFileRecord>): Promise<void> {
    const key = storeFileKey(job.storeId, job.fileId);
    const current = await this.options.meta.get<StoreFileRecord>("store_file", key);
    if (!current || current.status !== "in_progress" || job.abort.signal.aborted) {
      // Detached, cancelled or re-attached meanwhile: leave no chunks behind for this run. (Completed
      // meanwhile: another replica sharing the store ingested it too, and the chunks are the file's.)
      if (status === "completed" && (!current || (current.status !== "in_progress" && current.status !== "completed"))) await this.removeChunks(job.storeId, job.fileId);
      return;
    }
    await this.options.meta.put("store_file", key, { ...current, status, ...fields });
  }

  private async run(job: Job): Promise<void> {
    try {
      const record = await this.options.meta.get<StoreFileRecord>("store_file", storeFileKey(job.storeId, job.fileId));
      const store = await this.options.meta.get<StoreRecord>("store", job.storeId);
      if (!record || !store || record.status !== "in_progress") return;
      const file = await this.getFile(job.fileId);
      const bytes = await this.fileBytes(job.fileId);
      const result = await ingestFile({
        storeId: job.storeId,
        fileId: job.fileId,
        filename: file.filename,
        bytes,
        ...(file.mime_type ? { mimeType: file.mime_type } : {}),
        chunking: chunkingOptions(record.chunking_strategy),
        redact: store.redact_pii === true,
        ...(this.duplicates ? { dedupe: (chunks) => this.duplicates!.filter(job.storeId, job.fileId, chunks) } : {}),
        models: this.options.models,
        index: this.options.index,
        signal: job.abort.signal,
      });
      await this.duplicates?.committedFile(job.storeId, job.fileId);
      this.touched.add(job.storeId);
      await this.foldIndex(job.storeId);
      for (const k of INGEST_STAGES) this.timings[k] += result.timings[k];
      this.timings.chunks += result.chunks;
      this.timings.duplicates += result.duplicates;
      this.timings.files++;
      const usage = result.document.sections.reduce((n, s) => n + Buffer.byteLength(s.text), 0);
      await this.finish(job, "completed", {
        chunks: result.chunks,
        usage_bytes: usage,
        last_error: null,
        duplicate_chunks: result.duplicates,
        duplicate_of: result.duplicateOf,
        ...(result.redacted ? { pii_redacted: Object.values(result.redacted).reduce((a, b) => a + b, 0) } : {}),
      });
    } catch (err) {
      if (job.abort.signal.aborted) {
        await this.removeChunks(job.storeId, job.fileId).catch(() => {});
        return;
      }
      const code: ErrorCode = err instanceof ExtractError ? err.code : "server_error";
      const message = err instanceof ExtractError || err instanceof NoEmbeddingModelError || err instanceof RagNotFoundError ? err.message : `Ingestion failed: ${(err as Error).message ?? String(err)}`;
      await this.removeChunks(job.storeId, job.fileId).catch(() => {});
      await this.finish(job, "failed", { last_error: { code, message } });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.queue.length = 0;
    for (const job of this.running.values()) job.abort.abort();
    await this.waitRunning();
    await this.options.index.close();
    await this.options.meta.close();
  }

  private async waitRunning(): Promise<void> {
    while (this.running.size > 0) await new Promise((r) => setTimeout(r, 20));
  }
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}
