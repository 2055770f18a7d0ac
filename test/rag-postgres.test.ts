/**
 * The PostgreSQL + pgvector RAG backends on PGlite (real PostgreSQL 17 compiled to WASM, with
 * pgvector): schema and reopen, BM25 and cosine search, hybrid retrieval ranked like the embedded
 * LanceDB store on the eval set, filters in SQL against matchesFilter, deletion, atomic ingestion,
 * two replicas on one database, near-duplicate signatures shared across replicas and restarts (and
 * gone with a failed ingestion or a deleted file), start-up errors, and a real Nimble server (openai SDK) whose
 * --rag-store URL points at PGlite through its socket server.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { PGlite } from "@electric-sql/pglite";
import { vector } from "@electric-sql/pglite/vector";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import fc from "fast-check";
import OpenAI, { toFile } from "openai";
import { EmbeddingEngine } from "../src/engine/embedding-engine.js";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { createServer } from "../src/nimble.js";
import { chunkDocument } from "../src/rag/chunk.js";
import { encodeSignature, lshBands, minhashSignature } from "../src/rag/dedupe.js";
import { mrrAtK, parseQrels, parseQueries } from "../src/rag/eval.js";
import { extractDocument } from "../src/rag/extract.js";
import { matchesFilter } from "../src/rag/filters.js";
import { LanceChunkIndex } from "../src/rag/index/lance.js";
import { openSqlBackends, PostgresChunkIndex, SCHEMA_VERSION } from "../src/rag/index/postgres.js";
import { pgliteClient } from "../src/rag/index/sql-client.js";
import type { ChunkIndex, IndexedChunk } from "../src/rag/index/types.js";
import { embedTexts, engineTokenizer } from "../src/rag/ingest.js";
import { engineModels } from "../src/rag/models.js";
import { checkRagStore } from "../src/rag/open.js";
import type { StoreFileRecord } from "../src/rag/records.js";
import { HybridRetriever } from "../src/rag/retriever.js";
import { RagService } from "../src/rag/service.js";
import type { Attributes, SearchFilter } from "../src/rag/types.js";
import { tempDir, tinyModelPath, waitFor } from "./helpers.js";

let db: PGlite;
let embedding: EmbeddingEngine;
let embeddingPath: string;
/** Backends on the shared PGlite database (a "replica"); closing them leaves the database open. */
const open = (options: { insertRows?: number } = {}) => openSqlBackends(pgliteClient(db, { keepOpen: true }), options);

before(async () => {
  db = await PGlite.create({ extensions: { vector } });
  embeddingPath = join(tempDir(), "embed.gguf");
  await generateModel(embeddingPath, { shape: PRESETS.tiny, seed: 42, poolingType: 1, chatTemplate: null });
  embedding = await EmbeddingEngine.load({ modelPath: embeddingPath, servedName: "embed", gpu: "cpu", threads: 1, contextSize: 256 });
});
after(async () => {
  await embedding?.close();
  await db?.close();
});

const ORIGINAL = `# Heron arm maintenance

The Heron arm's wrist bearings are greased every four hundred operating hours with lithium grease.
Technicians log each service in the maintenance book and replace worn seals at the same visit.

Calibration of the Heron arm follows every bearing service: the arm is homed, the encoder offsets are
read back, and any drift above two tenths of a degree is corrected before the cell restarts.
`;
// Re-cased, re-punctuated and lightly edited: a near-duplicate of every chunk.
const COPY = ORIGINAL.replace("four hundred", "four-hundred").replace("Technicians", "TECHNICIANS").replace(": the arm", ", the arm").replace("before the cell", "before the work cell");

/** Stored signatures per file of a store, from the tables themselves (each with its 32 band key rows, none left over). */
async function minhashRows(storeId: string): Promise<Record<string, number>> {
  const { rows } = await db.query<{ file_id: string; n: number }>("SELECT file_id, count(*)::int AS n FROM nimble_rag_chunks WHERE store_id = $1 AND minhash IS NOT NULL GROUP BY file_id ORDER BY file_id", [storeId]);
  const bands = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM nimble_rag_minhash_bands WHERE store_id = $1", [storeId]);
  assert.equal(Number(bands.rows[0]!.n), 32 * rows.reduce((n, r) => n + Number(r.n), 0), "32 band keys per stored signature");
  return Object.fromEntries(rows.map((r) => [r.file_id, Number(r.n)]));
}

function unit(values: number[]): Float32Array {
  const n = Math.hypot(...values);
  return Float32Array.from(values, (v) => v / n);
}

function chunk(fileId: string, i: number, text: string, vector: Float32Array): IndexedChunk {
  return { id: `${fileId}:${i}`, fileId, chunkIndex: i, text, tokens: text.split(" ").length, page: i + 1, headingPath: ["Doc", `S${i}`], charStart: i * 10, charEnd: i * 10 + text.length, vector };
}

function storeFile(storeId: string, id: string, attributes: Attributes, status: StoreFileRecord["status"] = "completed", chunks = 1): StoreFileRecord {
  return { id, vector_store_id: storeId, filename: `${id}.md`, created_at: 1, status, last_error: null, attributes, chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 800, chunk_overlap_tokens: 400 } }, usage_bytes: 0, chunks, sha256: "" };
}

describe("PostgreSQL backends on PGlite", () => {
  it("creates the schema with its version row, idempotently", async () => {
    await (await open()).meta.close();
    await (await open()).meta.close();
    const version = await db.query<{ version: number }>("SELECT version FROM nimble_rag_schema");
    assert.deepEqual(version.rows, [{ version: SCHEMA_VERSION }]);
    const tables = await db.query<{ t: string }>("SELECT tablename AS t FROM pg_tables WHERE tablename LIKE 'nimble_rag_%' ORDER BY 1");
    // A database written by a newer Nimble is refused, naming the option.
    await db.query("UPDATE nimble_rag_schema SET version = $1", [SCHEMA_VERSION + 1]);
    await assert.rejects(open(), new RegExp(`--rag-store: the database holds Nimble's RAG schema version ${SCHEMA_VERSION + 1}, newer than this build's ${SCHEMA_VERSION}`));
    await db.query("UPDATE nimble_rag_schema SET version = $1", [SCHEMA_VERSION]);
    assert.deepEqual(tables.rows.map((r) => r.t), ["nimble_rag_batches", "nimble_rag_chunks", "nimble_rag_file_bytes", "nimble_rag_files", "nimble_rag_minhash_bands", "nimble_rag_schema", "nimble_rag_store_files", "nimble_rag_stores"]);
  });

  it("migrates a version 1 database to 2 (signature columns and the band keys table), keeping its chunks", async () => {
    const dbv1 = await PGlite.create({ extensions: { vector } });
    const v1 = await openSqlBackends(pgliteClient(dbv1, { keepOpen: true }));
    await v1.index.addFile("vs_v1", [chunk("file_v", 0, "forklift charging bay", unit([1, 0]))]);
    // Back to version 1's schema.
    await dbv1.query("DROP TABLE nimble_rag_minhash_bands");
    await dbv1.query("ALTER TABLE nimble_rag_chunks DROP COLUMN minhash, DROP COLUMN bands");
    await dbv1.query("UPDATE nimble_rag_schema SET version = 1");
    const v2 = await openSqlBackends(pgliteClient(dbv1, { keepOpen: true }));
    assert.deepEqual((await dbv1.query("SELECT version FROM nimble_rag_schema")).rows, [{ version: 2 }]);
    assert.deepEqual((await dbv1.query("SELECT id, minhash, bands FROM nimble_rag_chunks")).rows, [{ id: "file_v:0", minhash: null, bands: null }]);
    const text = "forklift charging bay rules";
    await v2.index.addFile("vs_v1", [{ ...chunk("file_w", 0, text, unit([0, 1])), signature: encodeSignature(minhashSignature(text)) }]);
    assert.deepEqual((await v2.index.duplicateCandidates("vs_v1", lshBands(minhashSignature(text)), "file_x")).map((r) => r.id), ["file_w:0"]);
    assert.equal(await v2.index.count("vs_v1"), 2);
    await dbv1.close();
  });

  it("keeps records in insertion order, lists by prefix, replaces and deletes", async () => {
    const { meta } = await open();
    await meta.put("batch", "vs_a/b1", { n: 1, text: "it's \u0000 50%_" });
    await meta.put("batch", "vs_a/b2", { n: 2 });
    await meta.put("batch", "vs_b/b3", { n: 3 });
    await meta.put("batch", "vs_a/b1", { n: 10 });
    assert.deepEqual(await meta.list("batch", "vs_a/"), [{ n: 10 }, { n: 2 }]);
    assert.deepEqual(await meta.list("batch", "vs_%"), []);
    assert.equal((await meta.list("batch")).length, 3);
    await meta.put("batch", "vs_x", { text: "a\u0000b", keys: { z: 1, a: 2 } });
    // U+0000 cannot be stored in PostgreSQL text: it comes back as U+FFFD; key order is kept (json, not jsonb).
    assert.deepEqual(await meta.get("batch", "vs_x"), { text: "a\ufffdb", keys: { z: 1, a: 2 } });
    assert.deepEqual(Object.keys((await meta.get<{ keys: object }>("batch", "vs_x"))!.keys), ["z", "a"]);
    await meta.delete("batch", "vs_a/b2");
    assert.equal(await meta.get("batch", "vs_a/b2"), undefined);
    await meta.close();
  });

  it("indexes chunks: BM25 finds the lexical match, dense search orders by cosine similarity", async () => {
    const { meta, index } = await open();
    const s = "vs_basic";
    await index.addFile(s, [chunk("file_a", 0, "The Quokka sabbatical gives four weeks of paid leave", unit([1, 0, 0])), chunk("file_a", 1, "Expense reports are reimbursed within thirty days", unit([0, 1, 0]))]);
    await index.addFile(s, [chunk("file_b", 0, "Tunnelbird VPN connects laptops to the office network", unit([1, 1, 0]))]);
    assert.equal(await index.count(s), 3);
    assert.deepEqual([...(await index.fileChunkCounts(s))].sort(), [["file_a", 2], ["file_b", 1]]);

    const text = await index.searchText(s, "What is the Quokka sabbatical?", 10);
    assert.deepEqual(text.map((h) => h.chunk.id), ["file_a:0"]);
    assert.ok(text[0]!.raw > 0);
    assert.deepEqual(text[0]!.chunk, { id: "file_a:0", fileId: "file_a", chunkIndex: 0, text: "The Quokka sabbatical gives four weeks of paid leave", tokens: 9, page: 1, headingPath: ["Doc", "S0"], charStart: 0, charEnd: 52 });
    // Stemming: "reimbursing" finds "reimbursed"; query syntax is only words.
    assert.deepEqual((await index.searchText(s, "reimbursing & | ! (expense", 10)).map((h) => h.chunk.id), ["file_a:1"]);
    assert.deepEqual(await index.searchText(s, "the of", 10), []);
    assert.deepEqual(await index.searchText(s, "quokka", 10, []), []);
    assert.deepEqual((await index.searchText(s, "quokka vpn", 10, ["file_b"])).map((h) => h.chunk.id), ["file_b:0"]);

    const dense = await index.searchVector(s, unit([1, 0.2, 0]), 10);
    assert.deepEqual(dense.map((h) => h.chunk.id), ["file_a:0", "file_b:0", "file_a:1"]);
    const q = unit([1, 0.2, 0]);
    const cos = (v: number[]) => { const u = unit(v); return u.reduce((n, x, i) => n + x * q[i]!, 0); };
    dense.forEach((h, i) => assert.ok(Math.abs(h.raw - cos([[1, 0, 0], [1, 1, 0], [0, 1, 0]][i]!)) < 1e-5));
    assert.deepEqual((await index.searchVector(s, q, 10, ["file_a"])).map((h) => h.chunk.id), ["file_a:0", "file_a:1"]);
    assert.deepEqual(await index.searchVector("vs_none", q, 10), []);
    await meta.close();
  });

  it("searches through the HNSW index with store and file filters like an exact scan", async () => {
    const { meta, index } = await open();
    let seed = 1;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5;
    for (const s of ["vs_hnsw1", "vs_hnsw2"]) {
      for (const f of ["f0", "f1", "f2"]) await index.addFile(s, Array.from({ length: 200 }, (_, i) => chunk(f, i, `row ${i}`, Float32Array.from({ length: 16 }, random))));
    }
    const q = Float32Array.from({ length: 16 }, random);
    const exact = await index.searchVector("vs_hnsw1", q, 100, ["f1", "f2"]);
    const plan = async () => (await db.query<Record<string, string>>("EXPLAIN SELECT id FROM nimble_rag_chunks c WHERE c.store_id = 'vs_hnsw1' AND c.dim = 16 ORDER BY c.embedding::vector(16) <=> $1::vector(16) LIMIT 100", [`[${Array.from(q).join(",")}]`])).rows.map((r) => Object.values(r)[0]).join("\n");
    // Small tables get an exact scan from the planner: make it take the index.
    await db.query("SET enable_seqscan = off");
    await db.query("SET enable_bitmapscan = off");
    try {
      assert.match(await plan(), /Index Scan using nimble_rag_chunks_hnsw_16/);
      const approximate = await index.searchVector("vs_hnsw1", q, 100, ["f1", "f2"]);
      assert.equal(approximate.length, 100);
      assert.ok(approximate.every((h) => h.chunk.fileId !== "f0"));
      assert.deepEqual(approximate.slice(0, 10).map((h) => h.chunk.id), exact.slice(0, 10).map((h) => h.chunk.id));
    } finally {
      await db.query("RESET enable_seqscan");
      await db.query("RESET enable_bitmapscan");
    }
    await index.dropStore("vs_hnsw1");
    await index.dropStore("vs_hnsw2");
    await meta.close();
  });

  it("deleting a file removes its chunks and signatures at once; dropping a store removes all", async () => {
    const { meta, index } = await open();
    const s = "vs_delete";
    const signed = (c: IndexedChunk): IndexedChunk => ({ ...c, signature: encodeSignature(minhashSignature(c.text)) });
    await index.addFile(s, [chunk("file_a", 0, "alpha heron arm", unit([1, 0])), chunk("file_a", 1, "beta heron arm", unit([1, 1]))].map(signed));
    await index.addFile(s, [chunk("file_b", 0, "gamma heron arm", unit([0, 1]))].map(signed));
    assert.deepEqual(await minhashRows(s), { file_a: 2, file_b: 1 });
    await index.deleteFile(s, "file_a");
    assert.deepEqual(await minhashRows(s), { file_b: 1 });
    assert.equal(await index.count(s), 1);
    assert.deepEqual((await index.searchText(s, "heron", 10)).map((h) => h.chunk.id), ["file_b:0"]);
    assert.deepEqual((await index.searchVector(s, unit([1, 0]), 10)).map((h) => h.chunk.id), ["file_b:0"]);
    await index.dropStore(s);
    assert.equal(await index.count(s), 0);
    assert.deepEqual(await minhashRows(s), {});
    await meta.close();
  });

  it("looks near-duplicate candidates up by LSH band key through an index, per store, without the file left out", async () => {
    const { meta, index } = await open();
    const text = "The Heron arm's wrist bearings are greased every four hundred operating hours with lithium grease.";
    const sig = minhashSignature(text);
    const signed = (storeId: string, fileId: string, t: string, v: number[]) => index.addFile(storeId, [{ ...chunk(fileId, 0, t, unit(v)), signature: encodeSignature(minhashSignature(t)) }]);
    await signed("vs_cand", "file_a", text, [1, 0]);
    await signed("vs_cand", "file_b", "Badges are printed at the front desk on Mondays before nine.", [0, 1]);
    await signed("vs_cand_other", "file_c", text, [1, 1]);
    const near = minhashSignature(text.replace("four hundred", "four-hundred"));
    const found = await index.duplicateCandidates("vs_cand", lshBands(near), "file_x");
    assert.deepEqual(found, [{ id: "file_a:0", fileId: "file_a", signature: encodeSignature(sig) }]);
    assert.deepEqual(await index.duplicateCandidates("vs_cand", lshBands(near), "file_a"), []);
    assert.deepEqual(await index.duplicateCandidates("vs_cand", [], "file_x"), []);
    // With a store's chunks (and statistics) the lookup goes through the band keys' primary key, then the chunks'.
    const rows = Array.from({ length: 1500 }, (_, i) => ({ ...chunk("file_many", i, `line ${i * 7919} of the conveyor log, shift ${i % 13}`, unit([1, i])), signature: encodeSignature(minhashSignature(`line ${i * 7919} of the conveyor log, shift ${i % 13}`)) }));
    await index.addFile("vs_cand", rows);
    await db.query("ANALYZE nimble_rag_minhash_bands");
    await db.query("ANALYZE nimble_rag_chunks");
    const sql = `EXPLAIN SELECT c.id FROM nimble_rag_chunks c WHERE c.store_id = 'vs_cand' AND c.file_id <> 'file_x' AND c.minhash IS NOT NULL
      AND c.id IN (SELECT b.chunk_id FROM nimble_rag_minhash_bands b WHERE b.store_id = 'vs_cand' AND b.band = ANY($1::bigint[]))`;
    const plan = (await db.query<Record<string, string>>(sql, [`{${lshBands(near).join(",")}}`])).rows.map((r) => Object.values(r)[0]).join("\n");
    assert.match(plan, /Index Only Scan using nimble_rag_minhash_bands_pkey/);
    assert.match(plan, /Index Scan using nimble_rag_chunks_pkey/);
    assert.doesNotMatch(plan, /Seq Scan/);
    assert.deepEqual((await index.duplicateCandidates("vs_cand", lshBands(near), "file_x")).map((r) => r.id), ["file_a:0"]);
    await index.dropStore("vs_cand");
    await index.dropStore("vs_cand_other");
    await meta.close();
  });

  it("adds a file in one transaction: a failure part-way leaves the file as it was", async () => {
    // Two chunks per INSERT statement, so the failing chunk (NaN: pgvector rejects it) comes after rows went in.
    const { meta, index } = await open({ insertRows: 2 });
    const s = "vs_atomic";
    const good = Array.from({ length: 7 }, (_, i) => ({ ...chunk("file_x", i, `pelican gripper part ${i}`, unit([1, i + 1])), signature: encodeSignature(minhashSignature(`pelican gripper part ${i}`)) }));
    const bad = good.map((c, i) => (i === 5 ? { ...c, vector: Float32Array.from([NaN, 1]) } : c));
    await assert.rejects(index.addFile(s, bad));
    assert.equal(await index.count(s), 0);
    assert.deepEqual(await index.searchText(s, "pelican", 10), []);
    // No signatures either (they go in with the chunks, in the same transaction).
    assert.deepEqual(await minhashRows(s), {});
    // Over a complete earlier version: it stays whole.
    await index.addFile(s, good.slice(0, 3));
    await assert.rejects(index.addFile(s, bad));
    assert.deepEqual([...(await index.fileChunkCounts(s))], [["file_x", 3]]);
    assert.deepEqual(await minhashRows(s), { file_x: 3 });
    // Adding again replaces (a replica may ingest the same file after a restart).
    await index.addFile(s, good);
    await index.addFile(s, good);
    assert.equal(await index.count(s), 7);
    assert.deepEqual(await minhashRows(s), { file_x: 7 });
    await assert.rejects(index.addFile(s, [good[0]!, { ...good[1]!, vector: unit([1, 2, 3]) }]), /one size/);
    await meta.close();
  });

  it("filters in SQL select exactly the files matchesFilter accepts", async () => {
    const { meta } = await open();
    const s = "vs_filters";
    const keys = ["dept", "year", "ok", "it's"];
    const values = ["hr", "eng", "Hr", "", "'; DROP TABLE nimble_rag_chunks; --", 0, 1, 2024, -3.5, 1e21, true, false] as const;
    const attrs = fc.dictionary(fc.constantFrom(...keys), fc.constantFrom(...values), { maxKeys: 4 });
    const records: Attributes[] = fc.sample(attrs, { numRuns: 40, seed: 7 });
    records.push({}, { year: "2024" }, { year: 2024.0 }, { dept: "z" }, { dept: "\u00e9" }, { dept: "\u{1F600}" });
    for (const [i, a] of records.entries()) await meta.put("store_file", `${s}/file_${i}`, storeFile(s, `file_${i}`, a, i % 7 === 3 ? "in_progress" : "completed"));
    await meta.put("store_file", `vs_other/file_0`, storeFile("vs_other", "file_0", { dept: "hr" }));
    const value = fc.oneof(fc.constantFrom(...values), fc.array(fc.constantFrom(...values), { maxLength: 3 }));
    const comparison = fc.record({ type: fc.constantFrom("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"), key: fc.constantFrom(...keys, "missing"), value });
    const filter: fc.Arbitrary<SearchFilter> = fc.letrec<{ f: SearchFilter }>((tie) => ({
      f: fc.oneof({ depthSize: "small", withCrossShrink: true }, comparison as fc.Arbitrary<SearchFilter>, fc.record({ type: fc.constantFrom("and", "or"), filters: fc.array(tie("f"), { maxLength: 3 }) }) as fc.Arbitrary<SearchFilter>),
    })).f;
    const all = await meta.listStoreFiles(s, {});
    assert.equal(all.length, records.length);
    await fc.assert(
      fc.asyncProperty(filter, async (f) => {
        const got = (await meta.listStoreFiles(s, { status: "completed", filter: f })).map((r) => r.id);
        const want = all.filter((r) => r.status === "completed" && matchesFilter(r.attributes, f)).map((r) => r.id);
        assert.deepEqual(got, want);
      }),
      { numRuns: 150, seed: 11 },
    );
    // A few by hand: ordering across types, code point order, the injection attempt as a value and a key.
    const ids = async (f: SearchFilter) => (await meta.listStoreFiles(s, { filter: f })).map((r) => r.attributes);
    assert.deepEqual(await ids({ type: "gte", key: "year", value: 2024 }), all.filter((r) => typeof r.attributes.year === "number" && r.attributes.year >= 2024).map((r) => r.attributes));
    assert.deepEqual(await ids({ type: "gt", key: "dept", value: "z" }), [{ dept: "\u00e9" }, { dept: "\u{1F600}" }]);
    assert.deepEqual(await ids({ type: "eq", key: "'; DROP TABLE nimble_rag_chunks; --", value: 1 }), []);
    assert.deepEqual((await db.query("SELECT to_regclass('nimble_rag_chunks') IS NOT NULL AS present")).rows, [{ present: true }]);
    await meta.close();
  });
});

describe("hybrid retrieval on PostgreSQL ranks like the embedded store", () => {
  it("gives the same dense lists and the same top files on the eval set", async (t) => {
    const corpus = join(process.cwd(), "bench", "data", "rag-eval");
    const queries = parseQueries(readFileSync(join(corpus, "queries.jsonl"), "utf8"));
    const qrels = parseQrels(readFileSync(join(corpus, "qrels.tsv"), "utf8"));
    const names = readdirSync(join(corpus, "corpus")).filter((n) => !/\.(pdf|docx)$/.test(n));
    const s = "vs_eval";
    const lance = await LanceChunkIndex.open(join(tempDir(), "lance"));
    const { meta, index } = await open();
    const files: StoreFileRecord[] = [];
    for (const name of names) {
      const doc = await extractDocument(readFileSync(join(corpus, "corpus", name)), name);
      const chunks = chunkDocument(doc, engineTokenizer(embedding), { maxChunkTokens: 120, overlapTokens: 20 });
      const vectors = await embedTexts(embedding, chunks.map((c) => c.text), "");
      const rows = chunks.map((c, i): IndexedChunk => ({ id: `${name}:${i}`, fileId: name, chunkIndex: i, text: c.text, tokens: c.tokens, page: c.page ?? 0, headingPath: c.headingPath, charStart: c.charStart, charEnd: c.charEnd, vector: vectors[i]! }));
      await lance.addFile(s, rows);
      await index.addFile(s, rows);
      files.push({ ...storeFile(s, name, { doc_id: name }, "completed", rows.length), filename: name });
    }
    await lance.optimize(s);
    assert.equal(await index.count(s), await lance.count(s));
    const models = engineModels({ embedding });
    const retriever = (ix: LanceChunkIndex | PostgresChunkIndex) => new HybridRetriever({ index: ix, models, searchableFiles: async (_id, f) => files.filter((r) => !f || matchesFilter(r.attributes, f)) });
    const [onLance, onPg] = [retriever(lance), retriever(index)];
    const ranking = (r: Awaited<ReturnType<HybridRetriever["search"]>>) => [...new Set(r.results.map((x) => x.fileId))];
    let sameTop = 0;
    let sameTopText = 0;
    const mrr = { lance: 0, pg: 0 };
    for (const q of queries) {
      // Dense alone: the same chunks in the same order with the same (normalised) scores.
      const [dl, dp] = await Promise.all([onLance.search([s], q.text, { ranker: "none", maxResults: 20, hybrid: { textWeight: 0, embeddingWeight: 1 } }), onPg.search([s], q.text, { ranker: "none", maxResults: 20, hybrid: { textWeight: 0, embeddingWeight: 1 } })]);
      assert.deepEqual(dp.results.map((r) => r.score), dl.results.map((r) => r.score));
      assert.deepEqual(dp.results.map((r) => `${r.fileId}:${r.chunk.index}`), dl.results.map((r) => `${r.fileId}:${r.chunk.index}`));
      const [tl, tp] = await Promise.all([onLance.search([s], q.text, { ranker: "none", maxResults: 10, hybrid: { textWeight: 1, embeddingWeight: 0 } }), onPg.search([s], q.text, { ranker: "none", maxResults: 10, hybrid: { textWeight: 1, embeddingWeight: 0 } })]);
      if (ranking(tl)[0] === ranking(tp)[0]) sameTopText++;
      const [hl, hp] = await Promise.all([onLance.search([s], q.text, { ranker: "none", maxResults: 10 }), onPg.search([s], q.text, { ranker: "none", maxResults: 10 })]);
      if (ranking(hl)[0] === ranking(hp)[0]) sameTop++;
      for (const r of hp.results) assert.ok(r.score > 0 && r.score <= 1);
      const judged = qrels.get(q.id)!;
      mrr.lance += mrrAtK(ranking(hl), judged, 10) / queries.length;
      mrr.pg += mrrAtK(ranking(hp), judged, 10) / queries.length;
    }
    t.diagnostic(`best file agrees: BM25 ${sameTopText}/${queries.length}, hybrid ${sameTop}/${queries.length}; MRR@10 PostgreSQL ${mrr.pg.toFixed(3)}, LanceDB ${mrr.lance.toFixed(3)}`);
    // BM25 over tsvector (PostgreSQL's english stemmer and stop words) against LanceDB's tokenizer: the same best file for nearly every query.
    assert.ok(sameTopText >= queries.length - 3, `BM25 best file agrees on ${sameTopText}/${queries.length}`);
    assert.ok(sameTop >= queries.length - 4, `hybrid best file agrees on ${sameTop}/${queries.length}`);
    assert.ok(mrr.pg >= mrr.lance - 0.05, `MRR@10 ${mrr.pg.toFixed(3)} vs LanceDB ${mrr.lance.toFixed(3)}`);
    // A filter reaches the chunks through the file list.
    const filtered = await onPg.search([s], "Quokka sabbatical", { ranker: "none", filters: { type: "eq", key: "doc_id", value: "vpn.md" } });
    assert.ok(filtered.results.length > 0 && filtered.results.every((r) => r.fileId === "vpn.md"));
    await index.dropStore(s);
    await meta.close();
    await lance.close();
  });
});

describe("replicas on one PostgreSQL database", () => {
  it("see each other's stores, files, bytes and chunks; reopen keeps everything", async () => {
    const models = engineModels({ embedding });
    // Each replica has its own files folder: the bytes are shared through the database.
    const [dirA, dirB] = [join(tempDir(), "files"), join(tempDir(), "files")];
    const a = await RagService.open({ filesDir: dirA, models, ...(await open()) });
    let b = await RagService.open({ filesDir: dirB, models, ...(await open()) });
    const bytes = Buffer.from("# Bike scheme\n\nThe Fjordline bike scheme lends cargo bikes for a week.");
    const file = await a.createFile(Readable.from([bytes]), "bikes.md", "assistants");
    const empty = await a.createFile(Readable.from([]), "empty.txt", "assistants");
    // b creates the store and ingests a's upload.
    const store = await b.createStore({ name: "shared" });
    await b.attachFile(store.id, file.id, { dept: "facilities" });
    await b.waitIdle();
    assert.deepEqual(readFileSync(join(dirB, file.id)), bytes);
    assert.deepEqual(await b.fileBytes(empty.id), Buffer.alloc(0));
    assert.equal((await a.getStore("shared")).id, store.id);
    assert.equal((await a.getStoreFile(store.id, file.id)).status, "completed");
    assert.deepEqual((await a.storeObject(store)).file_counts, { in_progress: 0, completed: 1, failed: 0, cancelled: 0, total: 1 });
    const hit = await a.retriever.search([store.id], "cargo bikes", { ranker: "none", filters: { type: "eq", key: "dept", value: "facilities" } });
    assert.equal(hit.results[0]?.fileId, file.id);
    assert.deepEqual((await a.retriever.search([store.id], "cargo bikes", { ranker: "none", filters: { type: "ne", key: "dept", value: "facilities" } })).results, []);

    // Reopen replica b: nothing lost, nothing re-ingested.
    await b.close();
    b = await RagService.open({ filesDir: dirB, models, ...(await open()) });
    assert.equal((await b.getStoreFile(store.id, file.id)).status, "completed");
    assert.equal((await b.retriever.search([store.id], "cargo bikes", { ranker: "none" })).results[0]?.fileId, file.id);

    // b detaches the file: a's searches stop finding it at once. a deletes it: b's cached copy goes when b reopens.
    await b.detachFile(store.id, file.id);
    assert.deepEqual((await a.retriever.search([store.id], "cargo bikes", { ranker: "none" })).results, []);
    await a.deleteFile(file.id);
    await assert.rejects(b.fileBytes(file.id), /No file found/);
    await b.close();
    b = await RagService.open({ filesDir: dirB, models, ...(await open()) });
    assert.deepEqual(readdirSync(dirB), [empty.id]);
    await b.deleteStore(store.id);
    await assert.rejects(a.getStore(store.id), /No vector store/);
    await a.close();
    await b.close();
  });

  it("a replica re-ingesting a file that another replica completes meanwhile keeps it searchable", async () => {
    const models = engineModels({ embedding });
    const a = await RagService.open({ filesDir: join(tempDir(), "files"), models, ...(await open()) });
    const store = await a.createStore({ name: "race" });
    const file = await a.createFile(Readable.from([Buffer.from("The Heron arm lifts twelve kilograms at full reach.")]), "heron.md", "assistants");
    await a.attachFile(store.id, file.id);
    await a.waitIdle();
    const done = await a.getStoreFile(store.id, file.id);
    // As if a were still ingesting it when b starts: b's recovery queues it again. b's embedding waits for a gate.
    await a.meta.put("store_file", `${store.id}/${file.id}`, { ...done, status: "in_progress" });
    let open_!: () => void;
    const gate = new Promise<void>((resolve) => (open_ = resolve));
    const gated = { ...models, embedding: async () => (await gate, models.embedding()) };
    const b = await RagService.open({ filesDir: join(tempDir(), "files"), models: gated, ...(await open()) });
    // a finishes first (its chunks and its completed record), then b's run ends.
    await a.meta.put("store_file", `${store.id}/${file.id}`, done);
    // b's recovery left the chunks in place (its addFile will replace them): the file is searchable throughout.
    assert.equal((await a.retriever.search([store.id], "Heron arm", { ranker: "none" })).results[0]?.fileId, file.id);
    open_();
    await b.waitIdle();
    assert.equal((await b.getStoreFile(store.id, file.id)).status, "completed");
    assert.equal((await b.retriever.search([store.id], "Heron arm", { ranker: "none" })).results[0]?.fileId, file.id);
    await a.deleteStore(store.id);
    await a.close();
    await b.close();
  });

  it("share near-duplicate detection: a copy ingested through the other replica or after a restart is dropped; a failed or deleted file leaves no signatures", async () => {
    const models = engineModels({ embedding });
    const replica = async (options: { insertRows?: number; index?: (index: PostgresChunkIndex) => ChunkIndex } = {}) => {
      const backends = await open(options.insertRows ? { insertRows: options.insertRows } : {});
      return RagService.open({ filesDir: join(tempDir(), "files"), models, ...backends, index: options.index ? options.index(backends.index) : backends.index });
    };
    let a = await replica();
    const b = await replica();
    const store = await a.createStore({ name: "dedupe" });
    const upload = (svc: RagService, text: string, name: string) => svc.createFile(Readable.from([Buffer.from(text)]), name, "assistants");
    const ingest = async (svc: RagService, fileId: string) => {
      await svc.attachFile(store.id, fileId);
      await svc.waitIdle();
      return svc.getStoreFile(store.id, fileId);
    };
    // b has ingested into the store before a does (its detection state for the store exists already).
    const other = await upload(b, "# Pelican gripper\n\nThe Pelican gripper's suction cups are replaced every month; spare cups sit in drawer seven.\n", "pelican.md");
    const p = await ingest(b, other.id);
    assert.ok(p.chunks > 0);
    const original = await upload(a, ORIGINAL, "heron.md");
    const o = await ingest(a, original.id);
    assert.equal(o.status, "completed");
    assert.ok(o.chunks > 0);
    assert.equal(o.duplicate_chunks, 0);
    assert.deepEqual(await minhashRows(store.id), Object.fromEntries([[original.id, o.chunks], [other.id, p.chunks]].sort()));

    // The copy through the other replica: every chunk dropped, as a duplicate of a's file.
    const copy = await upload(b, COPY, "heron-copy.md");
    const c = await ingest(b, copy.id);
    assert.equal(c.status, "completed");
    assert.equal(c.chunks, 0, "every chunk of the copy duplicates the original");
    assert.equal(c.duplicate_chunks, o.chunks);
    assert.deepEqual(c.duplicate_of, [original.id]);

    // After a restart (a new instance on the same database): a third copy is dropped too.
    await a.close();
    a = await replica();
    const third = await upload(a, COPY.replace("lithium grease", "lithium-grease"), "heron-third.md");
    const t = await ingest(a, third.id);
    assert.equal(t.chunks, 0);
    assert.equal(t.duplicate_chunks, o.chunks);
    assert.deepEqual(t.duplicate_of, [original.id]);

    // A replica whose commit fails part-way (its last chunk's vector is NaN: pgvector refuses it, after
    // the rows before it went in, one per INSERT): the file fails and leaves no signatures.
    const failing = await replica({
      insertRows: 1,
      index: (index) => Object.assign(Object.create(index) as PostgresChunkIndex, { addFile: (sid: string, rows: IndexedChunk[]) => index.addFile(sid, rows.map((r, i) => (i === rows.length - 1 ? { ...r, vector: r.vector.map(() => NaN) } : r))) }),
    });
    const text = "# Quarry conveyor\n\nThe quarry conveyor belt is inspected each Tuesday for frayed edges and loose rollers.\n\nSpare rollers are stored in the blue container next to the weighbridge office.\n";
    const fresh = await upload(failing, text, "conveyor.md");
    const f = await ingest(failing, fresh.id);
    assert.equal(f.status, "failed");
    assert.equal((await minhashRows(store.id))[fresh.id], undefined);
    await failing.close();
    // The same content ingested again (through b) is not taken for a duplicate.
    const again = await ingest(b, fresh.id);
    assert.equal(again.status, "completed");
    assert.ok(again.chunks > 0);
    assert.equal(again.duplicate_chunks, 0);

    // Detaching the original removes its signatures: its copies are ingested again and the first keeps its chunks.
    await b.detachFile(store.id, original.id);
    assert.equal((await minhashRows(store.id))[original.id], undefined);
    await b.waitIdle();
    const c2 = await b.getStoreFile(store.id, copy.id);
    assert.equal(c2.status, "completed");
    assert.equal(c2.duplicate_chunks, 0);
    assert.equal((await minhashRows(store.id))[copy.id], c2.chunks);
    assert.deepEqual((await b.getStoreFile(store.id, third.id)).duplicate_of, [copy.id]);
    await a.deleteStore(store.id);
    assert.deepEqual(await minhashRows(store.id), {});
    await a.close();
    await b.close();
  });

  it("reopens a database from disk with its records and chunks", async () => {
    const dir = tempDir();
    const first = await PGlite.create(dir, { extensions: { vector } });
    const one = await openSqlBackends(pgliteClient(first));
    await one.meta.put("store", "vs_disk", { id: "vs_disk" });
    await one.index.addFile("vs_disk", [chunk("file_d", 0, "warehouse safety rules", unit([1, 2]))]);
    await one.index.close();
    await one.meta.close();
    assert.equal(first.closed, true);
    const again = await PGlite.create(dir, { extensions: { vector } });
    const two = await openSqlBackends(pgliteClient(again));
    assert.deepEqual(await two.meta.get("store", "vs_disk"), { id: "vs_disk" });
    assert.deepEqual((await two.index.searchText("vs_disk", "safety", 5)).map((h) => h.chunk.id), ["file_d:0"]);
    await two.meta.close();
  });
});

describe("a --rag-store that cannot be used", () => {
  it("fails with one error naming the option, without the password", async () => {
    await assert.rejects(checkRagStore("postgres://nimble:s3cret@127.0.0.1:1/rag"), (err: Error) => {
      assert.match(err.message, /^--rag-store: cannot use PostgreSQL at postgres:\/\/nimble@127\.0\.0\.1:1\/rag: .*ECONNREFUSED/);
      assert.doesNotMatch(err.message, /s3cret/);
      return true;
    });
    await assert.rejects(checkRagStore("postgres://[nope"), /--rag-store: not a valid postgres:\/\/user:password@host:port\/database URL$/);
    await assert.rejects(checkRagStore("mysql://localhost/db"), /--rag-store must be a postgres:\/\/ URL/);
    await assert.rejects(createServer({ model: await tinyModelPath(), port: 0, home: tempDir(), threads: 1, logLevel: "error", ragStore: "postgres://127.0.0.1:1/rag" }), /--rag-store: cannot use PostgreSQL/);
  });

  it("names CREATE EXTENSION vector when pgvector is missing", async () => {
    const plain = await PGlite.create();
    await assert.rejects(openSqlBackends(pgliteClient(plain)), /--rag-store: the pgvector extension is not installed .*CREATE EXTENSION vector/);
    await plain.close();
  });
});

describe("a Nimble server on --rag-store postgres:// (PGlite socket server)", () => {
  it("serves the openai SDK's vector store calls from PostgreSQL, shared by a second replica", async () => {
    const socket = new PGLiteSocketServer({ db, port: 0, maxConnections: 32 });
    await socket.start();
    const url = `postgres://postgres@${socket.getServerConn()}/postgres`;
    const options = { model: await tinyModelPath(), servedModelName: "tiny", port: 0, threads: 1, logLevel: "error" as const, embeddingModel: embeddingPath, embeddingCtxSize: 128, ragStore: url };
    // Each replica has its own home (its own copy of uploaded bytes); records and index are shared.
    const one = await createServer({ ...options, home: tempDir() });
    const two = await createServer({ ...options, home: tempDir() });
    try {
      await Promise.all([one.ready, two.ready]);
      const [c1, c2] = [one, two].map((s) => new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "unused" }));
      const text = "# Support\n\nThe support desk answers within four hours on weekdays.";
      // Uploaded to one replica, indexed by the other (the bytes are in the database too).
      const file = await c1!.files.create({ file: await toFile(Buffer.from(text), "support.md"), purpose: "assistants" });
      const store = await c2!.vectorStores.create({ name: "pg", file_ids: [file.id] });
      await waitFor(async () => (await c1!.vectorStores.retrieve(store.id)).file_counts.completed === 1, 30_000);
      assert.equal(Buffer.from(await (await c2!.files.content(file.id)).arrayBuffer()).toString(), text);
      await c1!.vectorStores.files.update(store.id, file.id, { attributes: { team: "support", year: 2025 } });
      // The other replica: the same store, counts and search results.
      assert.equal((await c2!.vectorStores.retrieve(store.id)).file_counts.completed, 1);
      const found = await c2!.vectorStores.search(store.id, { query: "support desk hours", filters: { type: "gte", key: "year", value: 2025 } });
      assert.equal(found.data[0]?.file_id, file.id);
      assert.deepEqual(found.data[0]?.attributes, { team: "support", year: 2025 });
      assert.equal((await c2!.vectorStores.search(store.id, { query: "support desk hours", filters: { type: "eq", key: "team", value: "sales" } })).data.length, 0);
      await c2!.vectorStores.files.del(store.id, file.id);
      assert.equal((await c1!.vectorStores.search(store.id, { query: "support desk hours" })).data.length, 0);
      await c1!.vectorStores.del(store.id);
    } finally {
      await one.close();
      await two.close();
      await socket.stop();
    }
  });
});
