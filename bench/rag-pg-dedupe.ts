/**
 * Near-duplicate candidate lookup of the PostgreSQL chunk index on PGlite (in process, WASM): the
 * query ingestion runs once per file (every band key of the file's chunks, 32 per chunk), by the
 * band keys' b-tree (what Nimble does), against the same run's reference: a GIN index on the chunks'
 * `bands` array (`&&`), as the planner picks it and with sequential scans off (the index forced).
 * Synthetic chunks (random words; no duplicates, so the lookup's cost is the index's alone):
 * node dist/bench/rag-pg-dedupe.js [--chunks 10000] [--files 20] [--file-chunks 100].
 * PGlite is a dev dependency: run it from a checkout.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite/vector";
import { encodeSignature, lshBands, minhashSignature } from "../src/rag/dedupe.js";
import { openSqlBackends } from "../src/rag/index/postgres.js";
import { pgliteClient } from "../src/rag/index/sql-client.js";
import type { IndexedChunk } from "../src/rag/index/types.js";
import { intArg, parseArgs } from "./args.js";

const args = parseArgs(process.argv.slice(2), ["chunks", "files", "file-chunks"]);
const total = intArg(args, "chunks", 10_000);
const lookups = intArg(args, "files", 20);
const fileChunks = intArg(args, "file-chunks", 100);
const WORDS = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}`);
const words = (n: number) => Array.from({ length: n }, () => WORDS[Math.floor(Math.random() * WORDS.length)]).join(" ");
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const db = await PGlite.create(join(mkdtempSync(join(tmpdir(), "nimble-bench-pg-dedupe-")), "pglite"), { extensions: { vector } });
const { meta, index } = await openSqlBackends(pgliteClient(db, { keepOpen: true }));
const storeId = "vs_bench";
const loadStart = performance.now();
for (let f = 0; f * 100 < total; f++) {
  const rows = Array.from({ length: Math.min(100, total - f * 100) }, (_, i): IndexedChunk => {
    const text = words(120);
    return { id: `file_${f}:${i}`, fileId: `file_${f}`, chunkIndex: i, text, tokens: 120, page: 0, headingPath: [], charStart: 0, charEnd: 0, vector: Float32Array.from({ length: 8 }, () => Math.random() - 0.5), signature: encodeSignature(minhashSignature(text)) };
  });
  await index.addFile(storeId, rows);
}
const loadSeconds = (performance.now() - loadStart) / 1000;
await db.query("CREATE INDEX bench_bands_gin ON nimble_rag_chunks USING gin (bands)");
await db.query("ANALYZE");
const size = (await db.query<{ b: number; g: number; n: number }>("SELECT pg_total_relation_size('nimble_rag_minhash_bands')::float8 AS b, pg_relation_size('bench_bands_gin')::float8 AS g, (SELECT count(*) FROM nimble_rag_chunks)::int AS n")).rows[0]!;
const kb = (bytes: number) => (Number(bytes) / size.n / 1024).toFixed(2);
console.log(`loaded ${total} chunks with signatures in ${loadSeconds.toFixed(1)} s; per chunk: band keys table ${kb(size.b)} KB, a GIN index on bands ${kb(size.g)} KB`);

const files = Array.from({ length: lookups }, () => [...new Set(Array.from({ length: fileChunks }, () => lshBands(minhashSignature(words(120)))).flat())]);
const GIN_SQL = `SELECT c.id, c.file_id, c.minhash FROM (SELECT * FROM nimble_rag_chunks WHERE bands && $2::bigint[] OFFSET 0) c WHERE c.store_id = $1 AND c.file_id <> 'file_x'`;
const ways: [string, (bands: number[]) => Promise<unknown>][] = [
  ["b-tree on band keys (Nimble)", (bands) => index.duplicateCandidates(storeId, bands, "file_x")],
  ["GIN on bands, planner's choice", (bands) => db.query("SELECT id, file_id, minhash FROM nimble_rag_chunks WHERE bands && $2::bigint[] AND store_id = $1 AND file_id <> 'file_x'", [storeId, `{${bands.join(",")}}`])],
  ["GIN on bands, forced", (bands) => db.transaction(async (tx) => (await tx.query("SET LOCAL enable_seqscan = off"), tx.query(GIN_SQL, [storeId, `{${bands.join(",")}}`])))],
];
const p50: number[] = [];
for (const [name, run] of ways) {
  const times: number[] = [];
  for (const bands of files) {
    const t = performance.now();
    await run(bands);
    times.push(performance.now() - t);
  }
  p50.push(pct(times, 50));
  console.log(`${name}: one file of ${fileChunks} chunks (${files[0]!.length} keys) p50 ${pct(times, 50).toFixed(1)} ms, max ${Math.max(...times).toFixed(1)} ms, ${(pct(times, 50) / p50[0]!).toFixed(1)}× the b-tree`);
}
await meta.close();
await db.close();
