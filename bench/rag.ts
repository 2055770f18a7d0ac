/**
 * RAG benchmark (node dist/bench/rag.js [--docs 40] [--sizes 10000,100000] [--queries 50]
 * [--rerank-queries 20] [--dims N] [--vector-index auto|none|ivf_pq|hnsw] [--skip-ingest]):
 * 1. ingest end to end through RagService with the generated embedding model: chunks/s and where the
 *    time goes (extract / redact / chunk / dedupe / embed / index);
 * 2. search latency p50/p99 at each size on SYNTHETIC chunks (random vectors written directly, random
 *    words: fine for latency, meaningless for quality): the whole search without rerank, its query
 *    embedding, the hybrid stage (BM25 + dense + RRF) and inside it the BM25 and dense index calls;
 *    then the rerank stage (100 candidates through the generated reranker) on its own.
 * --dims N writes N-dimensional chunk vectors and maps the model's query vector to N dimensions with
 * a fixed random projection (to see the dense list at a real model's size; the tiny model has 64).
 * --vector-index auto (default) does what the product does: an IVF_HNSW_SQ index from
 * VECTOR_INDEX_MIN_VALUES chunks × dimensions, the exact scan below; the others force one choice at every size.
 * Random-weight models: the numbers say how fast, never how good.
 */
import { mkdtempSync } from "node:fs";
import os from "node:os";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import * as lancedb from "@lancedb/lancedb";
import { Index } from "@lancedb/lancedb";
import { EmbeddingEngine } from "../src/engine/embedding-engine.js";
import { RerankEngine } from "../src/engine/rerank-engine.js";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { LanceChunkIndex, REFINE_FACTOR, VECTOR_INDEX_MIN_VALUES } from "../src/rag/index/lance.js";
import type { ChunkIndex, IndexedChunk } from "../src/rag/index/types.js";
import { engineModels, type RagModels } from "../src/rag/models.js";
import { INGEST_STAGES } from "../src/rag/ingest.js";
import { openRag } from "../src/rag/open.js";
import type { StoreFileRecord } from "../src/rag/records.js";
import { HybridRetriever } from "../src/rag/retriever.js";
import { intArg, parseArgs } from "./args.js";

const args = parseArgs(process.argv.slice(2), ["docs", "sizes", "queries", "rerank-queries", "dims", "vector-index", "skip-ingest"]);
const docs = intArg(args, "docs", 40);
const sizes = (args.get("sizes") ?? "10000,100000").split(",").map(Number);
const queries = intArg(args, "queries", 50);
const rerankQueries = intArg(args, "rerank-queries", 20);
const vectorIndexArg = args.get("vector-index") ?? "auto";
if (!["auto", "none", "ivf_pq", "hnsw"].includes(vectorIndexArg)) throw new Error("--vector-index must be auto, none, ivf_pq or hnsw");
const dir = mkdtempSync(join(tmpdir(), "nimble-bench-rag-"));
const WORDS = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}`);
const words = (n: number) => Array.from({ length: n }, () => WORDS[Math.floor(Math.random() * WORDS.length)]).join(" ");
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const embedPath = join(dir, "embed.gguf");
const rerankPath = join(dir, "rerank.gguf");
await generateModel(embedPath, { shape: PRESETS.tiny, seed: 42, poolingType: 1, chatTemplate: null });
await generateModel(rerankPath, { shape: PRESETS.reranker, seed: 42 });
const embedding = await EmbeddingEngine.load({ modelPath: embedPath, servedName: "embed", gpu: "cpu", contextSize: 512, threads: 1 });
const rerank = await RerankEngine.load({ modelPath: rerankPath, servedName: "rerank", gpu: "cpu", threads: 1 });

const dims = intArg(args, "dims", embedding.info.dimensions);
console.log(`machine: ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}; chunk vectors ${dims} dimensions; vector index ${vectorIndexArg}`);

// 1. Ingest end to end.
if (!args.has("skip-ingest")) {
const service = await openRag({ home: join(dir, "home"), models: engineModels({ embedding }) });
const store = await service.createStore({ name: "bench", redact_pii: true }); // redaction on, to time it
const started = performance.now();
for (let i = 0; i < docs; i++) {
  const text = Array.from({ length: 6 }, (_, s) => `## Section ${s}\n\n${words(300)}`).join("\n\n");
  const file = await service.createFile(Readable.from([Buffer.from(`# Doc ${i}\n\n${text}`)]), `doc${i}.md`, "assistants");
  await service.attachFile(store.id, file.id);
}
await service.waitIdle();
const seconds = (performance.now() - started) / 1000;
const t = service.timings;
const stages = INGEST_STAGES.reduce((n, k) => n + t[k], 0);
const share = (ms: number) => `${((100 * ms) / stages).toFixed(1)}% (${(ms / 1000).toFixed(2)} s)`;
console.log(`ingest: ${t.files} files, ${t.chunks} chunks (${t.duplicates} near-duplicates dropped) in ${seconds.toFixed(1)} s = ${(t.chunks / seconds).toFixed(1)} chunks/s end to end`);
console.log(`  time: ${INGEST_STAGES.map((k) => `${k.replace("Ms", "")} ${share(t[k])}`).join(", ")} (of ${(stages / 1000).toFixed(1)} s in stages)`);
await service.close();
}

// 2. Search latency on synthetic chunks.
/** The model's query vector mapped to `dims` dimensions by a fixed random projection (identity when equal). */
const projection = dims === embedding.info.dimensions ? undefined : Array.from({ length: dims }, () => Float32Array.from({ length: embedding.info.dimensions }, () => Math.random() - 0.5));
const project = (v: Float32Array) => (projection ? Float32Array.from(projection, (row) => row.reduce((s, w, i) => s + w * v[i]!, 0)) : v);
const baseModels = engineModels({ embedding, rerank });
const models: RagModels = {
  ...baseModels,
  embedding: async () => {
    const lease = await baseModels.embedding();
    if (!projection) return lease;
    const engine = lease.model;
    const wrapped = Object.create(engine) as EmbeddingEngine;
    wrapped.embed = async (inputs) => (await engine.embed(inputs)).map(project);
    return { ...lease, model: wrapped };
  },
};
/** Times the index calls a search makes. */
function timed(index: ChunkIndex, calls: Record<"text" | "vector" | "count", number[]>): ChunkIndex {
  const wrap = <A extends unknown[], R>(fn: (...a: A) => Promise<R>, into: number[]) => async (...a: A) => {
    const s = performance.now();
    try {
      return await fn(...a);
    } finally {
      into.push(performance.now() - s);
    }
  };
  return Object.assign(Object.create(index) as ChunkIndex, {
    searchText: wrap(index.searchText.bind(index), calls.text),
    searchVector: wrap(index.searchVector.bind(index), calls.vector),
    count: wrap(index.count.bind(index), calls.count),
  });
}
const f = (xs: number[]) => (xs.length ? `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms` : "n/a");

for (const size of sizes) {
  const vectorIndex = vectorIndexArg === "auto" ? (size * dims >= VECTOR_INDEX_MIN_VALUES ? "hnsw" : "none") : vectorIndexArg;
  const lanceDir = join(dir, `lance-${size}`);
  // The product builds its vector index at VECTOR_INDEX_MIN_VALUES; here --vector-index decides.
  let index = await LanceChunkIndex.open(lanceDir, { vectorIndexMinValues: Number.MAX_SAFE_INTEGER });
  const storeId = `vs_bench${size}`;
  const perFile = 1000;
  const files: StoreFileRecord[] = [];
  const loadStart = performance.now();
  for (let fi = 0; fi * perFile < size; fi++) {
    const fileId = `file_${fi}`;
    const rows: IndexedChunk[] = Array.from({ length: Math.min(perFile, size - fi * perFile) }, (_, i) => {
      const v = Float32Array.from({ length: dims }, () => Math.random() - 0.5);
      return { id: `${fileId}:${i}`, fileId, chunkIndex: i, text: words(120), tokens: 120, page: 0, headingPath: [], charStart: 0, charEnd: 0, vector: v };
    });
    await index.addFile(storeId, rows);
    files.push({ id: fileId, vector_store_id: storeId, filename: `${fileId}.md`, created_at: 0, status: "completed", last_error: null, attributes: {}, chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 } }, usage_bytes: 0, chunks: rows.length, sha256: "" });
  }
  await index.optimize(storeId);
  const loadSeconds = (performance.now() - loadStart) / 1000;
  let indexSeconds = 0;
  if (vectorIndex !== "none") {
    await index.close();
    const s = performance.now();
    const db = await lancedb.connect(lanceDir);
    const table = await db.openTable(storeId);
    await table.createIndex("vector", { config: vectorIndex === "ivf_pq" ? Index.ivfPq({ distanceType: "cosine" }) : Index.hnswSq({ distanceType: "cosine" }) });
    table.close();
    db.close();
    indexSeconds = (performance.now() - s) / 1000;
    index = await LanceChunkIndex.open(lanceDir, { vectorIndexMinValues: Number.MAX_SAFE_INTEGER });
    // Recall of the index's top 100 against the exact top 100 (random vectors: a hard case).
    const exactDb = await lancedb.connect(lanceDir);
    const exact = await exactDb.openTable(storeId);
    let overlap = 0;
    const probes = 20;
    for (let q = 0; q < probes; q++) {
      const v = Float32Array.from({ length: dims }, () => Math.random() - 0.5);
      const truth = new Set(((await exact.vectorSearch(Array.from(v)).distanceType("cosine").bypassVectorIndex().select(["id", "_distance"]).limit(100).toArray()) as { id: string }[]).map((r) => r.id));
      overlap += (await index.searchVector(storeId, v, 100)).filter((h) => truth.has(h.chunk.id)).length;
    }
    exact.close();
    exactDb.close();
    console.log(`  ${vectorIndex} recall@100 against the exact scan: ${(overlap / (probes * 100)).toFixed(3)} (refine factor ${REFINE_FACTOR})`);
  }
  console.log(`loaded ${size} synthetic chunks in ${loadSeconds.toFixed(1)} s${vectorIndex !== "none" ? `; ${vectorIndex} vector index built in ${indexSeconds.toFixed(1)} s` : "; exact vector scan"}`);
  const measure = async (ranker: "none" | "auto", n: number) => {
    const calls = { text: [] as number[], vector: [] as number[], count: [] as number[] };
    const retriever = new HybridRetriever({ index: timed(index, calls), models, searchableFiles: async () => files });
    const total: number[] = [];
    const stage = { embed: [] as number[], search: [] as number[], rerank: [] as number[] };
    for (let q = -3; q < n; q++) {
      const s = performance.now();
      await retriever.search([storeId], words(6), { ranker, maxResults: 10 });
      if (q < 0) {
        for (const xs of Object.values(calls)) xs.length = 0;
        continue; // warm-up
      }
      total.push(performance.now() - s);
      stage.embed.push(retriever.lastTimings.embedMs);
      stage.search.push(retriever.lastTimings.searchMs);
      stage.rerank.push(retriever.lastTimings.rerankMs);
    }
    if (ranker === "none") {
      console.log(`search ${size} chunks, no rerank (${n} queries): total ${f(total)}; query embedding ${f(stage.embed)}; hybrid stage (BM25 + dense + RRF) ${f(stage.search)}`);
      console.log(`  inside the hybrid stage: BM25 ${f(calls.text)}; dense ${f(calls.vector)}; row count ${f(calls.count)}`);
    } else console.log(`search ${size} chunks, with rerank (${n} queries): total ${f(total)}; rerank stage (100 candidates) ${f(stage.rerank)}`);
  };
  await measure("none", queries);
  await measure("auto", rerankQueries);
  await index.close();
}
await embedding.close();
await rerank.close();
