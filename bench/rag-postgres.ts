/**
 * Search latency of the PostgreSQL chunk index on PGlite (in process, WASM) against the embedded
 * LanceDB index, same run, same synthetic chunks (random words, random unit vectors: fine for
 * latency, meaningless for quality): node dist/bench/rag-postgres.js [--chunks 2000] [--queries 50] [--dim 384].
 * Each query is one BM25 list and one dense list of 100 (what the hybrid retriever asks of an index).
 * PGlite is a dev dependency: run it from a checkout.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite/vector";
import { LanceChunkIndex } from "../src/rag/index/lance.js";
import { openSqlBackends } from "../src/rag/index/postgres.js";
import { pgliteClient } from "../src/rag/index/sql-client.js";
import type { ChunkIndex, IndexedChunk } from "../src/rag/index/types.js";
import { intArg, parseArgs } from "./args.js";

const args = parseArgs(process.argv.slice(2), ["chunks", "queries", "dim"]);
const total = intArg(args, "chunks", 2000);
const queries = intArg(args, "queries", 50);
const dim = intArg(args, "dim", 384);
const dir = mkdtempSync(join(tmpdir(), "nimble-bench-rag-pg-"));
const WORDS = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}`);
const words = (n: number) => Array.from({ length: n }, () => WORDS[Math.floor(Math.random() * WORDS.length)]).join(" ");
const randomUnit = () => {
  const v = Float32Array.from({ length: dim }, () => Math.random() - 0.5);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const perFile = 100;
const files: IndexedChunk[][] = [];
for (let f = 0; f * perFile < total; f++) {
  files.push(Array.from({ length: Math.min(perFile, total - f * perFile) }, (_, i) => ({ id: `file_${f}:${i}`, fileId: `file_${f}`, chunkIndex: i, text: words(120), tokens: 120, page: 0, headingPath: [], charStart: 0, charEnd: 0, vector: randomUnit() })));
}
const asked = Array.from({ length: queries }, () => ({ text: words(6), vector: randomUnit() }));

async function measure(name: string, index: ChunkIndex, close: () => Promise<void>): Promise<number> {
  const storeId = "vs_bench";
  const loadStart = performance.now();
  for (const rows of files) await index.addFile(storeId, rows);
  await index.optimize(storeId);
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const times: number[] = [];
  for (const q of asked) {
    const t = performance.now();
    await Promise.all([index.searchText(storeId, q.text, 100), index.searchVector(storeId, q.vector, 100)]);
    times.push(performance.now() - t);
  }
  await close();
  console.log(`${name}: loaded ${total} chunks (${dim} dims, ${files.length} files) in ${loadSeconds.toFixed(1)} s; BM25 + dense lists of 100: p50 ${pct(times, 50).toFixed(1)} ms, p99 ${pct(times, 99).toFixed(1)} ms`);
  return pct(times, 50);
}

const lance = await LanceChunkIndex.open(join(dir, "lance"));
const lanceP50 = await measure("LanceDB", lance, () => lance.close());
const db = await PGlite.create(join(dir, "pglite"), { extensions: { vector } });
const { meta, index } = await openSqlBackends(pgliteClient(db));
const pgP50 = await measure("PostgreSQL on PGlite", index, () => meta.close());
console.log(`PGlite / LanceDB p50: ${(pgP50 / lanceP50).toFixed(2)}×`);
