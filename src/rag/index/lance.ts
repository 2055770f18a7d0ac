/**
 * The embedded chunk index: LanceDB under NIMBLE_HOME, one table per vector store, with a BM25
 * full-text index on the text and cosine vector search. Each file's chunks go in with one add()
 * (one Lance commit: all or nothing, also across kill -9), and leave with one delete().
 */
import * as lancedb from "@lancedb/lancedb";
import { Index } from "@lancedb/lancedb";
import { availableParallelism } from "node:os";
import { ftsWords, sqlString, type ChunkIndex, type IndexedChunk, type IndexHit, type StoredSignature } from "./types.js";

type Row = Record<string, unknown>;

function fileFilter(fileIds: readonly string[] | undefined): string | undefined {
  if (!fileIds) return undefined;
  return fileIds.length === 0 ? "false" : `file_id IN (${fileIds.map(sqlString).join(", ")})`;
}

function toHit(row: Row, raw: number): IndexHit {
  return {
    chunk: {
      id: String(row.id),
      fileId: String(row.file_id),
      chunkIndex: Number(row.chunk_index),
      text: String(row.text),
      tokens: Number(row.tokens),
      page: Number(row.page),
      headingPath: JSON.parse(String(row.heading_path)) as string[],
      charStart: Number(row.char_start),
      charEnd: Number(row.char_end),
    },
    raw,
  };
}

/**
 * LanceDB sizes its compute pool to the cores (LANCE_CPU_THREADS). With 2 cores, optimize() on a
 * table of ~100k chunks stalls forever while writing the full-text posting lists (measured with
 * @lancedb/lancedb 0.31.0: 30k chunks fold in 3.5 s, 100k never finish; with 4 threads 100k fold
 * in 8–14 s on the same 2-core machine), so Nimble asks for at least 4 unless the variable is set.
 * It must be set before LanceDB's runtime starts (the first connect in the process).
 */
export function lanceThreads(): void {
  if (process.env.LANCE_CPU_THREADS === undefined) process.env.LANCE_CPU_THREADS = String(Math.max(4, availableParallelism()));
}

/**
 * A store's vectors get an approximate index (IVF_HNSW_SQ, cosine) once chunks × dimensions reaches
 * this (50k chunks of 64 dimensions, ~4,200 of 768): the exact scan's cost is proportional to it
 * (on the shared 2-core machine ≈ 18 ms at 10k × 64, ≈ 55 ms at 100k × 64, ≈ 49 ms at 10k × 768),
 * while the indexed search stayed ≈ 14 ms at 100k × 64. Rows added after the index was built are
 * scanned exactly until optimize() folds them in.
 */
export const VECTOR_INDEX_MIN_VALUES = 50_000 * 64;
/** Candidates re-scored with the exact vectors per result wanted (the index's vectors are 8-bit). */
export const REFINE_FACTOR = 2;

const COLUMNS = ["id", "file_id", "chunk_index", "text", "tokens", "page", "heading_path", "char_start", "char_end"];

export class LanceChunkIndex implements ChunkIndex {
  private readonly tables = new Map<string, lancedb.Table>();
  /** Writes to one store run one after another. */
  private readonly queues = new Map<string, Promise<unknown>>();
  /** Rows added since the full-text index was last rebuilt, per store. */
  private readonly unindexed = new Map<string, number>();
  /** Tables known to have the `minhash` column (tables written before it existed get it on first write). */
  private readonly withSignatures = new Set<string>();

  /** Whether a table has a vector index (this process builds the ones it gets; cached per store). */
  private readonly vectorIndexed = new Map<string, boolean>();

  /** Vector dimensions per store (from the rows written). */
  private readonly dims = new Map<string, number>();

  private constructor(private readonly db: lancedb.Connection, private readonly vectorIndexMinValues: number) {}

  /** `vectorIndexMinValues`: chunks × dimensions from which a store's vectors are indexed (default VECTOR_INDEX_MIN_VALUES). */
  static async open(dir: string, options: { vectorIndexMinValues?: number } = {}): Promise<LanceChunkIndex> {
    lanceThreads();
    return new LanceChunkIndex(await lancedb.connect(dir), options.vectorIndexMinValues ?? VECTOR_INDEX_MIN_VALUES);
  }

  private serial<T>(storeId: string, work: () => Promise<T>): Promise<T> {
    const run = (this.queues.get(storeId) ?? Promise.resolve()).then(work, work);
    this.queues.set(storeId, run.catch(() => {}));
    return run;
  }

  private async table(storeId: string): Promise<lancedb.Table | undefined> {
    const cached = this.tables.get(storeId);
    if (cached) return cached;
    if (!(await this.db.tableNames()).includes(storeId)) return undefined;
    const table = await this.db.openTable(storeId);
    this.tables.set(storeId, table);
    return table;
  }

  addFile(storeId: string, chunks: IndexedChunk[]): Promise<void> {
    if (chunks.length === 0) return Promise.resolve();
    this.dims.set(storeId, chunks[0]!.vector.length);
    return this.serial(storeId, async () => {
      const rows = chunks.map((c) => ({
        id: c.id,
        file_id: c.fileId,
        chunk_index: c.chunkIndex,
        text: c.text,
        tokens: c.tokens,
        page: c.page,
        heading_path: JSON.stringify(c.headingPath),
        char_start: c.charStart,
        char_end: c.charEnd,
        vector: Array.from(c.vector),
        minhash: c.signature ?? "",
      }));
      const table = await this.table(storeId);
      if (!table) {
        const created = await this.db.createTable(storeId, rows);
        await created.createIndex("text", { config: Index.fts() });
        this.tables.set(storeId, created);
        this.withSignatures.add(storeId);
        return;
      }
      if (!(await this.hasSignatures(storeId, table))) {
        await table.addColumns([{ name: "minhash", valueSql: "''" }]);
        this.withSignatures.add(storeId);
      }
      await table.add(rows);
      this.unindexed.set(storeId, (this.unindexed.get(storeId) ?? 0) + rows.length);
    });
  }

  deleteFile(storeId: string, fileId: string): Promise<void> {
    return this.serial(storeId, async () => {
      await (await this.table(storeId))?.delete(`file_id = ${sqlString(fileId)}`);
    });
  }

  dropStore(storeId: string): Promise<void> {
    return this.serial(storeId, async () => {
      this.tables.delete(storeId);
      this.withSignatures.delete(storeId);
      this.vectorIndexed.delete(storeId);
      this.dims.delete(storeId);
      if ((await this.db.tableNames()).includes(storeId)) await this.db.dropTable(storeId);
    });
  }

  async searchText(storeId: string, query: string, limit: number, fileIds?: readonly string[]): Promise<IndexHit[]> {
    const table = await this.table(storeId);
    const words = ftsWords(query);
    if (!table || !words) return [];
    let q = table.search(words, "fts").select([...COLUMNS, "_score"]).limit(limit);
    const where = fileFilter(fileIds);
    if (where) q = q.where(where);
    const rows = (await q.toArray()) as Row[];
    return rows.map((r) => toHit(r, Number(r._score)));
  }

  async searchVector(storeId: string, vector: Float32Array, limit: number, fileIds?: readonly string[]): Promise<IndexHit[]> {
    const table = await this.table(storeId);
    if (!table) return [];
    let q = table.vectorSearch(Array.from(vector)).distanceType("cosine").select([...COLUMNS, "_distance"]).limit(limit);
    if (await this.hasVectorIndex(storeId, table)) q = q.refineFactor(REFINE_FACTOR);
    const where = fileFilter(fileIds);
    if (where) q = q.where(where);
    const rows = (await q.toArray()) as Row[];
    return rows.map((r) => toHit(r, 1 - Number(r._distance)));
  }

  private async hasSignatures(storeId: string, table: lancedb.Table): Promise<boolean> {
    if (this.withSignatures.has(storeId)) return true;
    const has = (await table.schema()).fields.some((f) => f.name === "minhash");
    if (has) this.withSignatures.add(storeId);
    return has;
  }

  async signatures(storeId: string): Promise<StoredSignature[]> {
    const table = await this.table(storeId);
    if (!table) return [];
    if (!(await this.hasSignatures(storeId, table))) {
      return ((await table.query().select(["id", "file_id", "text"]).toArray()) as Row[]).map((r) => ({ id: String(r.id), fileId: String(r.file_id), signature: null, text: String(r.text) }));
    }
    const stored = ((await table.query().where("minhash <> ''").select(["id", "file_id", "minhash"]).toArray()) as Row[]).map((r) => ({ id: String(r.id), fileId: String(r.file_id), signature: String(r.minhash) }));
    const missing = ((await table.query().where("minhash = '' OR minhash IS NULL").select(["id", "file_id", "text"]).toArray()) as Row[]).map((r) => ({ id: String(r.id), fileId: String(r.file_id), signature: null, text: String(r.text) }));
    return [...stored, ...missing];
  }

  async fileChunkCounts(storeId: string): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    const table = await this.table(storeId);
    if (!table) return counts;
    for (const r of (await table.query().select(["file_id"]).toArray()) as Row[]) counts.set(String(r.file_id), (counts.get(String(r.file_id)) ?? 0) + 1);
    return counts;
  }

  /** Rows the full-text index does not cover yet (LanceDB's full-text search may miss them until optimize()). */
  async unindexedRows(storeId: string): Promise<number> {
    return this.unindexed.get(storeId) ?? 0;
  }

  async count(storeId: string): Promise<number> {
    return (await (await this.table(storeId))?.countRows()) ?? 0;
  }

  private async hasVectorIndex(storeId: string, table: lancedb.Table): Promise<boolean> {
    let has = this.vectorIndexed.get(storeId);
    if (has === undefined) this.vectorIndexed.set(storeId, (has = (await table.listIndices()).some((i) => i.columns.includes("vector"))));
    return has;
  }

  /** Folds new rows into the indexes; builds the vector index when chunks × dimensions has grown to vectorIndexMinValues. */
  optimize(storeId: string): Promise<void> {
    return this.serial(storeId, async () => {
      const table = await this.table(storeId);
      if (!table || !this.unindexed.get(storeId)) return;
      this.unindexed.set(storeId, 0);
      await table.optimize({ cleanupOlderThan: new Date(Date.now() - 60_000) });
      if (!(await this.hasVectorIndex(storeId, table)) && (await table.countRows()) * (this.dims.get(storeId) ?? 0) >= this.vectorIndexMinValues) {
        await table.createIndex("vector", { config: Index.hnswSq({ distanceType: "cosine" }) });
        this.vectorIndexed.set(storeId, true);
      }
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()]);
    for (const t of this.tables.values()) t.close();
    this.tables.clear();
    this.db.close();
  }
}
