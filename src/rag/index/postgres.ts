/**
 * The PostgreSQL + pgvector backends (--rag-store postgres://…): chunks and records in tables, so
 * that several Nimble replicas share one index. Runs on any SqlClient: a node-postgres pool for a
 * real server, PGlite in tests.
 *
 * - Chunks: one table for all stores, the vector in a `vector` column (cosine distance; one HNSW
 *   index per dimension, partial on `dim`), the text as a `tsvector` (english: stemming and stop
 *   words, a GIN index) ranked with BM25 (k1 1.2, b 0.75) computed in SQL from the tsvector's
 *   term positions, like LanceDB's full-text search.
 * - A file's chunks go in with one transaction (any chunks it had are replaced), and leave with one
 *   DELETE: readers and crashed writers see all of them or none.
 * - Records: one table per kind (files, stores, store files, batches), the record as JSON, ordered
 *   by insertion. Store files also expose store id, status and attributes as columns, so that
 *   searches select the searchable files and apply filters in SQL (listStoreFiles).
 * - Near-duplicate signatures: the chunk's MinHash signature and its 32 LSH band keys in the chunk
 *   row (`minhash`, `bands`), and one row per band key in nimble_rag_minhash_bands (b-tree on store,
 *   key), written and deleted in the chunks' transactions; ingestion looks a file's candidates up by
 *   band key (a GIN index on the bigint[] is not taken by the planner for `&&` with many keys: bench/rag-pg-dedupe.ts).
 * - Uploaded files' bytes: in 1 MiB bytea parts, so any replica can ingest or serve a file
 *   uploaded through another (each keeps a cache under its home).
 * - The schema is created or migrated on open, under an advisory lock (replicas starting together
 *   do it once), and its version is kept in nimble_rag_schema.
 */
import { createReadStream } from "node:fs";
import type { StoreFileRecord, StoreFileStatus } from "../records.js";
import type { SearchFilter } from "../types.js";
import { decodeSignature, lshBands } from "../dedupe.js";
import { filterSql } from "./pg-filters.js";
import { poolClient, type SqlClient, type SqlQueryable } from "./sql-client.js";
import { ftsWords, type ChunkIndex, type FileBlobStore, type IndexedChunk, type IndexHit, type MetadataStore, type MetaKind, type StoredSignature } from "./types.js";

export const SCHEMA_VERSION = 2;
/** pg_advisory_xact_lock key of schema changes ("Nimb"). */
const SCHEMA_LOCK = 0x4e696d62;
/** Text search configuration of the tsvector and of queries. */
const TS_CONFIG = "english";
/** Chunks per INSERT statement (all in the file's one transaction). */
const INSERT_ROWS = 256;
/** pgvector's HNSW index takes vectors up to 2,000 dimensions; larger ones are searched exactly. */
const HNSW_MAX_DIM = 2000;
/** Bytes per row of a stored file. */
const BLOB_PART = 1 << 20;
/** HNSW candidate list size: at least the retriever's 100 candidates. */
const EF_SEARCH = 100;

const TABLES: Record<MetaKind, string> = { file: "nimble_rag_files", store: "nimble_rag_stores", store_file: "nimble_rag_store_files", batch: "nimble_rag_batches" };

const MIGRATIONS: string[][] = [
  // 0 → 1
  [
    ...Object.values(TABLES)
      .filter((t) => t !== TABLES.store_file)
      .map((t) => `CREATE TABLE ${t} (id text COLLATE "C" PRIMARY KEY, seq bigserial NOT NULL, value json NOT NULL)`),
    `CREATE TABLE ${TABLES.store_file} (
      id text COLLATE "C" PRIMARY KEY, seq bigserial NOT NULL, value json NOT NULL,
      store_id text COLLATE "C" GENERATED ALWAYS AS (value ->> 'vector_store_id') STORED,
      status text GENERATED ALWAYS AS (value ->> 'status') STORED,
      attributes jsonb GENERATED ALWAYS AS (coalesce((value -> 'attributes')::jsonb, '{}'::jsonb)) STORED)`,
    `CREATE INDEX nimble_rag_store_files_store ON ${TABLES.store_file} (store_id, seq)`,
    `CREATE TABLE nimble_rag_chunks (
      store_id text COLLATE "C" NOT NULL, id text COLLATE "C" NOT NULL, file_id text COLLATE "C" NOT NULL,
      chunk_index int NOT NULL, text text NOT NULL, tokens int NOT NULL, page int NOT NULL, heading_path jsonb NOT NULL,
      char_start int NOT NULL, char_end int NOT NULL, dim int NOT NULL, embedding vector NOT NULL,
      tsv tsvector NOT NULL, dl int NOT NULL, PRIMARY KEY (store_id, id))`,
    "CREATE INDEX nimble_rag_chunks_file ON nimble_rag_chunks (store_id, file_id)",
    "CREATE INDEX nimble_rag_chunks_tsv ON nimble_rag_chunks USING gin (tsv)",
    `CREATE TABLE nimble_rag_file_bytes (file_id text COLLATE "C" NOT NULL, part int NOT NULL, data bytea NOT NULL, PRIMARY KEY (file_id, part))`,
  ],
  // 1 → 2: near-duplicate signatures (chunks indexed before have none: they are no candidates until their file is ingested again).
  [
    "ALTER TABLE nimble_rag_chunks ADD COLUMN minhash text, ADD COLUMN bands bigint[]",
    `CREATE TABLE nimble_rag_minhash_bands (store_id text COLLATE "C" NOT NULL, band bigint NOT NULL, chunk_id text COLLATE "C" NOT NULL, PRIMARY KEY (store_id, band, chunk_id))`,
  ],
];

/** PostgreSQL text cannot hold U+0000: it is stored as U+FFFD. */
function noNul(s: string): string {
  return s.includes("\u0000") ? s.replace(/\u0000/g, "\ufffd") : s;
}

/** JSON text without U+0000 escapes (json/jsonb reject them). */
function json(value: unknown): string {
  return JSON.stringify(value).replace(/(?<!\\)((?:\\\\)*)\\u0000/g, "$1\\ufffd");
}

type ChunkRow = { id: string; file_id: string; chunk_index: number; text: string; tokens: number; page: number; heading_path: string[]; char_start: number; char_end: number; raw: number };
const COLUMNS = "c.id, c.file_id, c.chunk_index, c.text, c.tokens, c.page, c.heading_path, c.char_start, c.char_end";

function toHit(r: ChunkRow): IndexHit {
  return {
    chunk: { id: r.id, fileId: r.file_id, chunkIndex: r.chunk_index, text: r.text, tokens: r.tokens, page: r.page, headingPath: r.heading_path, charStart: r.char_start, charEnd: r.char_end },
    raw: Number(r.raw),
  };
}

function vectorText(v: Float32Array): string {
  return `[${Array.from(v).join(",")}]`;
}

function validDim(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 16000) throw new Error(`vectors must have 1–16000 dimensions, got ${n}`);
  return n;
}

/**
 * BM25 over the tsvector: idf = ln(1 + (N − df + 0.5) / (df + 0.5)), tf the term's positions in the
 * chunk, document length the chunk's token count (dl) against the store's average. $1 store,
 * $2 query words, $3 limit, $4 file ids or NULL.
 */
const BM25_SQL = `
WITH terms AS (SELECT DISTINCT lexeme FROM unnest(to_tsvector('${TS_CONFIG}', $2::text))),
query AS (SELECT string_agg(quote_literal(lexeme), ' | ')::tsquery AS q, array_agg(lexeme) AS lexemes FROM terms),
stats AS (SELECT count(*)::float8 AS n, greatest(coalesce(avg(dl), 1), 1)::float8 AS avgdl FROM nimble_rag_chunks WHERE store_id = $1),
matched AS (SELECT c.id, c.dl, c.tsv FROM nimble_rag_chunks c, query WHERE c.store_id = $1 AND c.tsv @@ query.q),
-- The query's terms only (marked with weight A, then kept), not every term of each matched chunk.
tf AS (SELECT m.id, m.dl, u.lexeme, cardinality(u.positions)::float8 AS tf FROM matched m, query, unnest(ts_filter(setweight(m.tsv, 'A', query.lexemes), '{a}')) u),
df AS (SELECT lexeme, count(*)::float8 AS df FROM tf GROUP BY lexeme),
scored AS (
  SELECT tf.id, sum(ln(1 + (s.n - df.df + 0.5) / (df.df + 0.5)) * tf.tf * 2.2 / (tf.tf + 1.2 * (0.25 + 0.75 * tf.dl / s.avgdl))) AS score
  FROM tf JOIN df USING (lexeme) CROSS JOIN stats s GROUP BY tf.id)
SELECT ${COLUMNS}, sc.score::float8 AS raw FROM scored sc JOIN nimble_rag_chunks c ON c.store_id = $1 AND c.id = sc.id
WHERE $4::text[] IS NULL OR c.file_id = ANY($4::text[])
ORDER BY sc.score DESC, c.id LIMIT $3`;

const INSERT_SQL = `
INSERT INTO nimble_rag_chunks (store_id, id, file_id, chunk_index, text, tokens, page, heading_path, char_start, char_end, dim, embedding, tsv, dl, minhash, bands)
SELECT $1, u.id, u.file_id, u.chunk_index, u.text, u.tokens, u.page, u.heading_path::jsonb, u.char_start, u.char_end, $2, u.embedding::vector, t.tsv,
  (SELECT coalesce(sum(cardinality(p.positions)), 0)::int FROM unnest(t.tsv) p), u.minhash, u.bands::bigint[]
FROM unnest($3::text[], $4::text[], $5::int[], $6::text[], $7::int[], $8::int[], $9::text[], $10::int[], $11::int[], $12::text[], $13::text[], $14::text[])
  AS u(id, file_id, chunk_index, text, tokens, page, heading_path, char_start, char_end, embedding, minhash, bands)
CROSS JOIN LATERAL (SELECT to_tsvector('${TS_CONFIG}', u.text) AS tsv) t`;

/** The band keys of chunks just inserted ($1 store, $2 chunk ids): one row per key. */
const INSERT_BANDS_SQL = `
INSERT INTO nimble_rag_minhash_bands (store_id, band, chunk_id)
SELECT c.store_id, k.band, c.id FROM nimble_rag_chunks c CROSS JOIN LATERAL unnest(c.bands) AS k(band)
WHERE c.store_id = $1 AND c.id = ANY($2::text[]) AND c.bands IS NOT NULL`;

/** Deletes the band keys of a store's chunks of some files ($1 store, $2 file ids), by primary key: before the chunks go. */
const DELETE_BANDS_SQL = `
DELETE FROM nimble_rag_minhash_bands b USING nimble_rag_chunks c
WHERE c.store_id = $1 AND c.file_id = ANY($2::text[]) AND c.bands IS NOT NULL AND b.store_id = $1 AND b.band = ANY(c.bands) AND b.chunk_id = c.id`;

/** Candidates by band key ($1 store, $2 band keys, $3 the file left out): the band keys' primary key, then the chunks'. */
const CANDIDATES_SQL = `
SELECT c.id, c.file_id, c.minhash AS signature FROM nimble_rag_chunks c
WHERE c.store_id = $1 AND c.file_id <> $3 AND c.minhash IS NOT NULL
  AND c.id IN (SELECT b.chunk_id FROM nimble_rag_minhash_bands b WHERE b.store_id = $1 AND b.band = ANY($2::bigint[]))`;

/** Deletes the chunks of some files and their band keys (inside the caller's transaction). */
async function deleteChunks(tx: SqlQueryable, storeId: string, fileIds: string[]): Promise<void> {
  await tx.query(DELETE_BANDS_SQL, [storeId, fileIds]);
  await tx.query("DELETE FROM nimble_rag_chunks WHERE store_id = $1 AND file_id = ANY($2::text[])", [storeId, fileIds]);
}

export class PostgresChunkIndex implements ChunkIndex {
  readonly addReplaces = true;
  /** Dimensions whose HNSW index this process has made sure of. */
  private readonly indexedDims = new Set<number>();

  constructor(
    private readonly db: SqlClient,
    private readonly options: { iterativeScan: boolean; insertRows?: number },
  ) {}

  /** The partial HNSW index for one dimension (created once, under the schema lock: replicas may race). */
  private async ensureVectorIndex(dim: number): Promise<void> {
    if (this.indexedDims.has(dim) || dim > HNSW_MAX_DIM) return;
    const name = `nimble_rag_chunks_hnsw_${dim}`;
    // Looked up first: CREATE INDEX IF NOT EXISTS would lock the table against writes even when the index exists.
    const { rows } = await this.db.query<{ present: boolean }>("SELECT to_regclass($1) IS NOT NULL AS present", [name]);
    if (rows[0]?.present) return void this.indexedDims.add(dim);
    await this.db.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK]);
      await tx.query(`CREATE INDEX IF NOT EXISTS ${name} ON nimble_rag_chunks USING hnsw ((embedding::vector(${dim})) vector_cosine_ops) WHERE dim = ${dim}`);
    });
    this.indexedDims.add(dim);
  }

  async addFile(storeId: string, chunks: IndexedChunk[]): Promise<void> {
    if (chunks.length === 0) return;
    const dim = validDim(chunks[0]!.vector.length);
    for (const c of chunks) if (c.vector.length !== dim) throw new Error(`the chunks of one file must have vectors of one size (${dim} and ${c.vector.length})`);
    await this.ensureVectorIndex(dim);
    const fileIds = [...new Set(chunks.map((c) => c.fileId))];
    const step = this.options.insertRows ?? INSERT_ROWS;
    await this.db.transaction(async (tx) => {
      // Replaces what the file had (a replica may have ingested it too, after a restart's recovery).
      await deleteChunks(tx, storeId, fileIds);
      for (let i = 0; i < chunks.length; i += step) {
        const part = chunks.slice(i, i + step);
        await tx.query(INSERT_SQL, [
          storeId,
          dim,
          part.map((c) => c.id),
          part.map((c) => c.fileId),
          part.map((c) => c.chunkIndex),
          part.map((c) => noNul(c.text)),
          part.map((c) => c.tokens),
          part.map((c) => c.page),
          part.map((c) => json(c.headingPath)),
          part.map((c) => c.charStart),
          part.map((c) => c.charEnd),
          part.map((c) => vectorText(c.vector)),
          part.map((c) => c.signature ?? null),
          part.map((c) => (c.signature ? `{${lshBands(decodeSignature(c.signature)).join(",")}}` : null)),
        ]);
        if (part.some((c) => c.signature)) await tx.query(INSERT_BANDS_SQL, [storeId, part.filter((c) => c.signature).map((c) => c.id)]);
      }
    });
  }

  /** Signatures sharing a band with `bands`, from the chunks of other files than `exceptFileId` (one query, by primary keys). */
  async duplicateCandidates(storeId: string, bands: readonly number[], exceptFileId: string): Promise<StoredSignature[]> {
    if (bands.length === 0) return [];
    const { rows } = await this.db.query<{ id: string; file_id: string; signature: string }>(CANDIDATES_SQL, [storeId, `{${bands.join(",")}}`, exceptFileId]);
    return rows.map((r) => ({ id: r.id, fileId: r.file_id, signature: r.signature }));
  }

  /** The chunks and their signatures' band keys, in one transaction. */
  async deleteFile(storeId: string, fileId: string): Promise<void> {
    await this.db.transaction((tx) => deleteChunks(tx, storeId, [fileId]));
  }

  async dropStore(storeId: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query("DELETE FROM nimble_rag_minhash_bands WHERE store_id = $1", [storeId]);
      await tx.query("DELETE FROM nimble_rag_chunks WHERE store_id = $1", [storeId]);
    });
  }

  async searchText(storeId: string, query: string, limit: number, fileIds?: readonly string[]): Promise<IndexHit[]> {
    const words = ftsWords(query);
    if (!words || fileIds?.length === 0) return [];
    const { rows } = await this.db.query<ChunkRow>(BM25_SQL, [storeId, words, limit, fileIds ? [...fileIds] : null]);
    return rows.map(toHit);
  }

  async searchVector(storeId: string, vector: Float32Array, limit: number, fileIds?: readonly string[]): Promise<IndexHit[]> {
    if (fileIds?.length === 0) return [];
    const dim = validDim(vector.length);
    const cast = `::vector(${dim})`;
    const sql = `SELECT ${COLUMNS}, (1 - (c.embedding${cast} <=> $2${cast}))::float8 AS raw FROM nimble_rag_chunks c
      WHERE c.store_id = $1 AND c.dim = ${dim} AND ($4::text[] IS NULL OR c.file_id = ANY($4::text[]))
      ORDER BY c.embedding${cast} <=> $2${cast} LIMIT $3`;
    const params = [storeId, vectorText(vector), limit, fileIds ? [...fileIds] : null];
    // The HNSW scan's candidate list and (pgvector ≥ 0.8) iterative scans, so that the store and file filters still yield `limit` rows.
    const rows = await this.db.transaction(async (tx) => {
      await tx.query(`SELECT set_config('hnsw.ef_search', $1, true)${this.options.iterativeScan ? ", set_config('hnsw.iterative_scan', 'strict_order', true)" : ""}`, [String(Math.min(1000, Math.max(EF_SEARCH, limit)))]);
      return (await tx.query<ChunkRow>(sql, params)).rows;
    });
    return rows.map(toHit);
  }

  async fileChunkCounts(storeId: string): Promise<Map<string, number>> {
    const { rows } = await this.db.query<{ file_id: string; n: number }>("SELECT file_id, count(*)::int AS n FROM nimble_rag_chunks WHERE store_id = $1 GROUP BY file_id", [storeId]);
    return new Map(rows.map((r) => [r.file_id, Number(r.n)]));
  }

  async count(storeId: string): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>("SELECT count(*)::int AS n FROM nimble_rag_chunks WHERE store_id = $1", [storeId]);
    return Number(rows[0]?.n ?? 0);
  }

  /** Nothing to fold: PostgreSQL's indexes cover every committed row. */
  async optimize(): Promise<void> {}

  async close(): Promise<void> {}
}

/** The records. It owns the client: closing it closes the client (RagService closes the index first). */
export class PostgresMetadataStore implements MetadataStore {
  constructor(private readonly db: SqlClient) {}

  async get<T>(kind: MetaKind, id: string): Promise<T | undefined> {
    const { rows } = await this.db.query<{ value: T }>(`SELECT value FROM ${TABLES[kind]} WHERE id = $1`, [id]);
    return rows[0]?.value;
  }

  async list<T>(kind: MetaKind, prefix = ""): Promise<T[]> {
    const pattern = `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const { rows } = await this.db.query<{ value: T }>(`SELECT value FROM ${TABLES[kind]} WHERE id LIKE $1 ORDER BY seq`, [pattern]);
    return rows.map((r) => r.value);
  }

  async put(kind: MetaKind, id: string, value: unknown): Promise<void> {
    await this.db.query(`INSERT INTO ${TABLES[kind]} (id, value) VALUES ($1, $2::json) ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value`, [id, json(value)]);
  }

  async delete(kind: MetaKind, id: string): Promise<void> {
    await this.db.query(`DELETE FROM ${TABLES[kind]} WHERE id = $1`, [id]);
  }

  /** A store's files, optionally of one status and passing a filter on their attributes (in SQL). */
  async listStoreFiles(storeId: string, options: { status?: StoreFileStatus; filter?: SearchFilter } = {}): Promise<StoreFileRecord[]> {
    const params: unknown[] = [storeId];
    const where = ["store_id = $1"];
    if (options.status) where.push(`status = $${params.push(options.status)}`);
    if (options.filter) where.push(filterSql(options.filter, "attributes", params));
    const { rows } = await this.db.query<{ value: StoreFileRecord }>(`SELECT value FROM ${TABLES.store_file} WHERE ${where.join(" AND ")} ORDER BY seq`, params);
    return rows.map((r) => r.value);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

/** Uploaded files' bytes in 1 MiB parts (bytea), written in one transaction. */
export class PostgresFileBlobStore implements FileBlobStore {
  constructor(private readonly db: SqlClient) {}

  async put(fileId: string, path: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query("DELETE FROM nimble_rag_file_bytes WHERE file_id = $1", [fileId]);
      let part = 0;
      for await (const data of createReadStream(path, { highWaterMark: BLOB_PART })) await tx.query("INSERT INTO nimble_rag_file_bytes (file_id, part, data) VALUES ($1, $2, $3)", [fileId, part++, data]);
      // An empty file still has its (empty) part, so that "stored" and "absent" differ.
      if (part === 0) await tx.query("INSERT INTO nimble_rag_file_bytes (file_id, part, data) VALUES ($1, 0, $2)", [fileId, Buffer.alloc(0)]);
    });
  }

  async get(fileId: string): Promise<Buffer | undefined> {
    const { rows } = await this.db.query<{ data: Uint8Array }>("SELECT data FROM nimble_rag_file_bytes WHERE file_id = $1 ORDER BY part", [fileId]);
    return rows.length === 0 ? undefined : Buffer.concat(rows.map((r) => r.data));
  }

  async delete(fileId: string): Promise<void> {
    await this.db.query("DELETE FROM nimble_rag_file_bytes WHERE file_id = $1", [fileId]);
  }
}

/** A clear error for a store that cannot be used, naming the option (the URL without its password). */
export class RagStoreError extends Error {
  constructor(message: string) {
    super(`--rag-store: ${message}`);
    this.name = "RagStoreError";
  }
}

function errorText(err: unknown): string {
  const e = err as Error & { code?: string; errors?: Error[] };
  return e.message || e.errors?.map((x) => x.message).join("; ") || e.code || String(err);
}

/** The pgvector extension (created when missing and allowed) and the schema at SCHEMA_VERSION; returns pgvector's version. */
async function migrate(db: SqlClient): Promise<string> {
  return db.transaction(async (tx: SqlQueryable) => {
    await tx.query("SELECT pg_advisory_xact_lock($1)", [SCHEMA_LOCK]);
    const ext = async () => (await tx.query<{ v: string }>("SELECT extversion AS v FROM pg_extension WHERE extname = 'vector'")).rows[0]?.v;
    let version = await ext();
    if (!version) {
      try {
        await tx.query("CREATE EXTENSION IF NOT EXISTS vector");
      } catch (err) {
        throw new RagStoreError(`the pgvector extension is not installed in this database and could not be created (${errorText(err)}); run CREATE EXTENSION vector; as a superuser`);
      }
      version = (await ext())!;
    }
    const [major = 0, minor = 0] = version.split(".").map(Number);
    if (major === 0 && minor < 5) throw new RagStoreError(`pgvector ${version} is too old: 0.5.0 or later is needed (HNSW indexes)`);
    await tx.query("CREATE TABLE IF NOT EXISTS nimble_rag_schema (singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton), version int NOT NULL)");
    const from = Number((await tx.query<{ version: number }>("SELECT version FROM nimble_rag_schema")).rows[0]?.version ?? 0);
    if (from > SCHEMA_VERSION) throw new RagStoreError(`the database holds Nimble's RAG schema version ${from}, newer than this build's ${SCHEMA_VERSION}: upgrade Nimble`);
    for (let v = from; v < SCHEMA_VERSION; v++) for (const sql of MIGRATIONS[v]!) await tx.query(sql);
    if (from !== SCHEMA_VERSION) await tx.query("INSERT INTO nimble_rag_schema (version) VALUES ($1) ON CONFLICT (singleton) DO UPDATE SET version = EXCLUDED.version", [SCHEMA_VERSION]);
    return version;
  });
}

/** The two backends on an open SqlClient (schema created or migrated first). Closing the metadata store closes the client. */
export async function openSqlBackends(db: SqlClient, options: { insertRows?: number } = {}): Promise<{ meta: PostgresMetadataStore; index: PostgresChunkIndex; blobs: PostgresFileBlobStore }> {
  const version = await migrate(db);
  const [major = 0, minor = 0] = version.split(".").map(Number);
  const index = new PostgresChunkIndex(db, { iterativeScan: major > 0 || minor >= 8, ...options });
  return { meta: new PostgresMetadataStore(db), index, blobs: new PostgresFileBlobStore(db) };
}

/** postgres://user@host:port/db: the URL as it may be shown (no password, no parameters). */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username ? `${decodeURIComponent(u.username)}@` : ""}${u.host}${u.pathname}`;
  } catch {
    return "(not a valid URL)";
  }
}

/** Opens the backends on a PostgreSQL server (node-postgres pool); a bad URL or a server that cannot be used is one RagStoreError. */
export async function openPostgresBackends(url: string): Promise<{ meta: MetadataStore; index: ChunkIndex; blobs: FileBlobStore }> {
  try {
    new URL(url);
  } catch {
    throw new RagStoreError("not a valid postgres://user:password@host:port/database URL");
  }
  const { default: pg } = await import("pg");
  const pool = new pg.Pool({ connectionString: url, connectionTimeoutMillis: 10_000 });
  // An idle connection that breaks (server restart) must not crash the process: the pool replaces it.
  pool.on("error", () => {});
  const db = poolClient(pool);
  try {
    return await openSqlBackends(db);
  } catch (err) {
    await db.close().catch(() => {});
    if (err instanceof RagStoreError) throw err;
    throw new RagStoreError(`cannot use PostgreSQL at ${describeUrl(url)}: ${errorText(err)}`);
  }
}
