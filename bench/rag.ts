/**
 * RAG benchmark (node dist/bench/rag.js [--docs 40] [--sizes 10000,100000] [--queries 50]):
 * 1. ingest end to end through RagService with the generated embedding model: chunks/s and where the
 *    time goes (extract / chunk / embed / index);
 * 2. search latency p50/p99 at each size on SYNTHETIC chunks (random vectors, random words: fine for
 *    latency, meaningless for quality), hybrid without rerank, and the rerank stage separately (100
 *    candidates through the generated reranker).
 * Random-weight models: the numbers say how fast, never how good.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { EmbeddingEngine } from "../src/engine/embedding-engine.js";
import { RerankEngine } from "../src/engine/rerank-engine.js";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { LanceChunkIndex } from "../src/rag/index/lance.js";
import type { IndexedChunk } from "../src/rag/index/types.js";
import { engineModels } from "../src/rag/models.js";
import { openRag } from "../src/rag/open.js";
import type { StoreFileRecord } from "../src/rag/records.js";
import { HybridRetriever } from "../src/rag/retriever.js";
import { intArg, parseArgs } from "./args.js";

const args = parseArgs(process.argv.slice(2), ["docs", "sizes", "queries"]);
const docs = intArg(args, "docs", 40);
const sizes = (args.get("sizes") ?? "10000,100000").split(",").map(Number);
const queries = intArg(args, "queries", 50);
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

// 1. Ingest end to end.
const service = await openRag({ home: join(dir, "home"), models: engineModels({ embedding }) });
const store = await service.createStore({ name: "bench" });
const started = performance.now();
for (let i = 0; i < docs; i++) {
  const text = Array.from({ length: 6 }, (_, s) => `## Section ${s}\n\n${words(300)}`).join("\n\n");
  const file = await service.createFile(Readable.from([Buffer.from(`# Doc ${i}\n\n${text}`)]), `doc${i}.md`, "assistants");
  await service.attachFile(store.id, file.id);
}
await service.waitIdle();
const seconds = (performance.now() - started) / 1000;
const t = service.timings;
const stages = t.extractMs + t.chunkMs + t.embedMs + t.indexMs;
const share = (ms: number) => `${((100 * ms) / stages).toFixed(1)}%`;
console.log(`ingest: ${t.files} files, ${t.chunks} chunks in ${seconds.toFixed(1)} s = ${(t.chunks / seconds).toFixed(1)} chunks/s end to end`);
console.log(`  time: extract ${share(t.extractMs)}, chunk ${share(t.chunkMs)}, embed ${share(t.embedMs)}, index ${share(t.indexMs)} (of ${(stages / 1000).toFixed(1)} s in stages)`);
await service.close();

// 2. Search latency on synthetic chunks.
for (const size of sizes) {
  const index = await LanceChunkIndex.open(join(dir, `lance-${size}`));
  const storeId = `vs_bench${size}`;
  const perFile = 1000;
  const files: StoreFileRecord[] = [];
  const loadStart = performance.now();
  for (let f = 0; f * perFile < size; f++) {
    const fileId = `file_${f}`;
    const rows: IndexedChunk[] = Array.from({ length: Math.min(perFile, size - f * perFile) }, (_, i) => {
      const v = Float32Array.from({ length: embedding.info.dimensions }, () => Math.random() - 0.5);
      return { id: `${fileId}:${i}`, fileId, chunkIndex: i, text: words(120), tokens: 120, page: 0, headingPath: [], charStart: 0, charEnd: 0, vector: v };
    });
    await index.addFile(storeId, rows);
    files.push({ id: fileId, vector_store_id: storeId, filename: `${fileId}.md`, created_at: 0, status: "completed", last_error: null, attributes: {}, chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 } }, usage_bytes: 0, chunks: rows.length, sha256: "" });
  }
  await index.optimize(storeId);
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const retriever = new HybridRetriever({ index, models: engineModels({ embedding, rerank }), searchableFiles: async () => files });
  const measure = async (ranker: "none" | "auto") => {
    const total: number[] = [];
    const stage = { embed: [] as number[], search: [] as number[], rerank: [] as number[] };
    for (let q = 0; q < queries; q++) {
      const s = performance.now();
      await retriever.search([storeId], words(6), { ranker, maxResults: 10 });
      total.push(performance.now() - s);
      stage.embed.push(retriever.lastTimings.embedMs);
      stage.search.push(retriever.lastTimings.searchMs);
      stage.rerank.push(retriever.lastTimings.rerankMs);
    }
    const f = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms`;
    console.log(`search ${size} chunks, ranker ${ranker}: total ${f(total)}; query embedding ${f(stage.embed)}; hybrid (BM25 + dense + RRF) ${f(stage.search)}${ranker === "auto" ? `; rerank of 100 ${f(stage.rerank)}` : ""}`);
  };
  console.log(`loaded ${size} synthetic chunks in ${loadSeconds.toFixed(1)} s`);
  await measure("none");
  if (size === sizes[0]) await measure("auto");
  await index.close();
}
await embedding.close();
await rerank.close();
