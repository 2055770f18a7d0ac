/**
 * Files, vector stores and grounded chat over HTTP with the official openai SDK, on generated chat,
 * embedding and rerank models: upload, ingest, hybrid search with filters, bad input, deletion,
 * citations, and a restart that keeps every store.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import OpenAI, { toFile } from "openai";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { createServer, type NimbleServer } from "../src/nimble.js";
import { postJson, postSse, tempDir, tinyModelPath, waitFor } from "./helpers.js";

const HANDBOOK = `# Handbook

## Parental leave
Employees get sixteen weeks of parental leave. Parental leave policy applies to every parent.

## Expenses
Expense reports are reimbursed within thirty days. Submit receipts for every expense.
`;
const TRAVEL = "Travel bookings go through the travel desk. Flights above four hours may be booked in premium economy.";

let home: string;
let embeddingModel: string;
let rerankModel: string;
let server: NimbleServer;
let client: OpenAI;
const start = async () => {
  const s = await createServer({ model: await tinyModelPath(), servedModelName: "tiny", port: 0, home, threads: 1, logLevel: "error", embeddingModel, rerankModel, embeddingCtxSize: 128, maxFileSize: 64 * 1024 });
  await s.ready;
  return s;
};

before(async () => {
  home = tempDir();
  embeddingModel = join(home, "embed.gguf");
  rerankModel = join(home, "rerank.gguf");
  await generateModel(embeddingModel, { shape: PRESETS.tiny, seed: 42, poolingType: 1, chatTemplate: null });
  await generateModel(rerankModel, { shape: PRESETS.reranker, seed: 42 });
  server = await start();
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused" });
});
after(async () => server?.close());

async function completed(storeId: string, count: number) {
  await waitFor(async () => (await client.vectorStores.retrieve(storeId)).file_counts.in_progress === 0, 30_000);
  const store = await client.vectorStores.retrieve(storeId);
  assert.equal(store.file_counts.total, count);
  return store;
}

let storeId: string;
let handbookId: string;
let travelId: string;

describe("files and vector stores (openai SDK)", () => {
  it("uploads files, creates a store with file_ids and ingests them", async () => {
    const a = await client.files.create({ file: await toFile(Buffer.from(HANDBOOK), "handbook.md"), purpose: "assistants" });
    const b = await client.files.create({ file: await toFile(Buffer.from(TRAVEL), "travel.txt"), purpose: "assistants" });
    handbookId = a.id;
    travelId = b.id;
    assert.equal(a.object, "file");
    assert.equal(a.filename, "handbook.md");
    assert.equal(a.bytes, Buffer.byteLength(HANDBOOK));
    assert.equal((await client.files.retrieve(a.id)).id, a.id);
    assert.equal(Buffer.from(await (await client.files.content(a.id)).arrayBuffer()).toString(), HANDBOOK);
    const store = await client.vectorStores.create({ name: "handbook", file_ids: [a.id, b.id], metadata: { team: "hr" } });
    storeId = store.id;
    assert.equal(store.object, "vector_store");
    assert.equal(store.name, "handbook");
    assert.deepEqual(store.metadata, { team: "hr" });
    const done = await completed(store.id, 2);
    assert.equal(done.file_counts.completed, 2);
    assert.equal(done.status, "completed");
    assert.ok(done.usage_bytes > 0);
    const files = await client.vectorStores.files.list(store.id);
    assert.deepEqual(files.data.map((f) => f.status), ["completed", "completed"]);
  });

  it("searches hybrid (BM25 + dense, reranked) with scores in [0, 1], and filters on attributes", async () => {
    await client.vectorStores.files.update(storeId, handbookId, { attributes: { dept: "hr", year: 2024 } });
    await client.vectorStores.files.update(storeId, travelId, { attributes: { dept: "travel", year: 2023 } });
    const page = await client.vectorStores.search(storeId, { query: "parental leave policy", max_num_results: 5 });
    assert.ok(page.data.length > 0);
    for (const r of page.data) assert.ok(r.score >= 0 && r.score <= 1, String(r.score));
    assert.ok(page.data.some((r) => r.filename === "handbook.md" && r.content[0]!.text.includes("Parental leave")));
    const noRerank = await client.vectorStores.search(storeId, { query: "parental leave policy", ranking_options: { ranker: "none" as any } });
    assert.equal(noRerank.data[0]!.filename, "handbook.md", "BM25 puts the chunk with the words first");
    const travel = await client.vectorStores.search(storeId, { query: "parental leave", filters: { type: "eq", key: "dept", value: "travel" } });
    assert.ok(travel.data.length > 0 && travel.data.every((r) => r.file_id === travelId));
    const compound = await client.vectorStores.search(storeId, {
      query: "leave",
      filters: { type: "and", filters: [{ type: "gte", key: "year", value: 2024 }, { type: "in", key: "dept", value: ["hr", "ops"] }] },
    });
    assert.ok(compound.data.length > 0 && compound.data.every((r) => r.file_id === handbookId));
    const none = await client.vectorStores.search(storeId, { query: "leave", filters: { type: "or", filters: [{ type: "eq", key: "dept", value: "legal" }, { type: "lt", key: "year", value: 2000 }] } });
    assert.equal(none.data.length, 0);
    const threshold = await client.vectorStores.search(storeId, { query: "leave", ranking_options: { score_threshold: 1 } });
    assert.ok(threshold.data.every((r) => r.score >= 1));
  });

  it("uploadAndPoll ingests a file, file batches track their files, pages have cursors", async () => {
    const file = await client.vectorStores.files.uploadAndPoll(storeId, await toFile(Buffer.from("Security badges are renewed every year at the front desk."), "security.md"), { pollIntervalMs: 100 });
    assert.equal(file.status, "completed");
    const up = await client.files.create({ file: await toFile(Buffer.from("Holidays: the office closes on the first of May."), "holidays.md"), purpose: "assistants" });
    const batch = await client.vectorStores.fileBatches.createAndPoll(storeId, { file_ids: [up.id] }, { pollIntervalMs: 100 });
    assert.equal(batch.object, "vector_store.files_batch");
    assert.equal(batch.status, "completed");
    assert.equal(batch.file_counts.completed, 1);
    const batchFiles = await client.vectorStores.fileBatches.listFiles(storeId, batch.id);
    assert.deepEqual(batchFiles.data.map((f) => f.id), [up.id]);
    const first = await client.vectorStores.files.list(storeId, { limit: 1 });
    assert.equal(first.data.length, 1);
    assert.ok(first.hasNextPage());
    const second = await first.getNextPage();
    assert.notEqual(second.data[0]!.id, first.data[0]!.id);
    const failedOnly = await client.vectorStores.files.list(storeId, { filter: "failed" });
    assert.equal(failedOnly.data.length, 0);
    const content = await fetch(`${server.url}/v1/vector_stores/${storeId}/files/${up.id}/content`).then((r) => r.json());
    assert.match(content.data[0].text, /first of May/);
  });

  it("marks an unsupported type and a corrupt file failed with unsupported_file / invalid_file", async () => {
    const exe = await client.vectorStores.files.uploadAndPoll(storeId, await toFile(Buffer.from([0x4d, 0x5a, 0, 1]), "tool.exe"), { pollIntervalMs: 100 });
    assert.equal(exe.status, "failed");
    assert.equal(exe.last_error?.code, "unsupported_file");
    const bad = await client.vectorStores.files.uploadAndPoll(storeId, await toFile(Buffer.from("this is not a zip archive"), "broken.docx"), { pollIntervalMs: 100 });
    assert.equal(bad.status, "failed");
    assert.equal(bad.last_error?.code, "invalid_file");
    const store = await client.vectorStores.retrieve(storeId);
    assert.equal(store.file_counts.failed, 2);
    assert.equal(store.file_counts.total, store.file_counts.completed + store.file_counts.failed);
  });

  it("stores a filename with ../ and control characters safely, under its id", async () => {
    const f = await client.files.create({ file: await toFile(Buffer.from("x"), "../../evil\u0007\n.md"), purpose: "assistants" });
    assert.match(f.filename, /^evil/);
    assert.doesNotMatch(f.filename, /[/\\\u0000-\u001f]|\.\./);
    assert.ok(existsSync(join(home, "rag", "files", f.id)));
    assert.ok(!readdirSync(home).includes("evil.md") && !existsSync(join(home, "..", "evil.md")));
    const deleted = await client.files.del(f.id);
    assert.deepEqual(deleted, { id: f.id, object: "file", deleted: true });
    await assert.rejects(client.files.retrieve(f.id), (err: any) => err.status === 404);
  });

  it("refuses a file over --max-file-size with a 413 and keeps nothing of it", async () => {
    const before = readdirSync(join(home, "rag", "files")).length;
    await assert.rejects(client.files.create({ file: await toFile(Buffer.alloc(80 * 1024, 97), "big.txt"), purpose: "assistants" }), (err: any) => err.status === 413 && /max-file-size/.test(err.message));
    assert.equal(readdirSync(join(home, "rag", "files")).length, before);
    const bad = await postJson(`${server.url}/v1/vector_stores`, { chunking_strategy: { type: "static", static: { max_chunk_size_tokens: 200, chunk_overlap_tokens: 150 } } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, "chunking_strategy.static.chunk_overlap_tokens");
  });

  it("truncates a query longer than the embedding context and says so", async () => {
    const query = Array.from({ length: 400 }, (_, i) => `word${i}`).join(" ");
    const { status, json } = await postJson(`${server.url}/v1/vector_stores/${storeId}/search`, { query });
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(json.query_truncated, true);
    assert.ok(json.search_query[0].length < query.length);
  });

  it("answers grounded chat with citations (rag field, rag:<store> alias, streaming) and abstains below the threshold", async () => {
    const ask = { messages: [{ role: "user", content: "What is the parental leave policy?" }], max_tokens: 3, temperature: 0 };
    const { status, json } = await postJson(`${server.url}/v1/chat/completions`, { ...ask, rag: { vector_store_ids: [storeId], max_num_results: 3, ranker: "none" } });
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(json.grounded, true);
    assert.equal(json.retrieval.search_query, "What is the parental leave policy?");
    assert.equal(json.retrieval.query_truncated, false);
    const citations = json.choices[0].message.citations;
    assert.ok(citations.length > 0 && citations.length <= 3);
    assert.deepEqual(citations.map((c: any) => c.index), citations.map((_: unknown, i: number) => i + 1));
    const c0 = citations[0];
    for (const key of ["vector_store_id", "file_id", "filename", "text", "page", "heading_path", "char_start", "char_end", "score"]) assert.ok(key in c0, key);
    assert.ok(citations.some((c: any) => c.file_id === handbookId));
    const alias = await postJson(`${server.url}/v1/chat/completions`, { ...ask, model: "rag:handbook" });
    assert.equal(alias.status, 200, JSON.stringify(alias.json));
    assert.equal(alias.json.model, "tiny");
    assert.ok(alias.json.choices[0].message.citations.length > 0);
    const events = await postSse(`${server.url}/v1/chat/completions`, { ...ask, rag: { vector_store_ids: [storeId] } });
    assert.ok(events[0].choices[0].delta.citations.length > 0);
    assert.equal(events[0].grounded, true);
    const abstain = await postJson(`${server.url}/v1/chat/completions`, { ...ask, rag: { vector_store_ids: [storeId], score_threshold: 1 }, ranker: undefined });
    assert.equal(abstain.json.grounded, false);
    assert.deepEqual(abstain.json.choices[0].message.citations, []);
    const missing = await postJson(`${server.url}/v1/chat/completions`, { ...ask, model: "rag:nope" });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error.param, "model");
  });

  it("removes every chunk of a deleted file from search at once", async () => {
    await client.vectorStores.files.del(storeId, handbookId);
    const page = await client.vectorStores.search(storeId, { query: "parental leave policy sixteen weeks", max_num_results: 50 });
    assert.ok(page.data.every((r) => r.file_id !== handbookId));
    const store = await client.vectorStores.retrieve(storeId);
    assert.ok(store.file_counts.total >= 1);
  });

  it("keeps every store across a restart", async () => {
    const before = await client.vectorStores.retrieve(storeId);
    await server.close();
    server = await start();
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused" });
    const again = await client.vectorStores.retrieve(storeId);
    assert.deepEqual(again.file_counts, before.file_counts);
    const page = await client.vectorStores.search(storeId, { query: "travel desk flights" });
    assert.ok(page.data.some((r) => r.file_id === travelId));
    const deleted = await client.vectorStores.del(storeId);
    assert.deepEqual(deleted, { id: storeId, object: "vector_store.deleted", deleted: true });
  });
});

describe("vector stores without an embedding model", () => {
  let bare: NimbleServer;
  before(async () => {
    bare = await createServer({ model: await tinyModelPath(), port: 0, home: tempDir(), threads: 1, logLevel: "error" });
    await bare.ready;
  });
  after(async () => bare?.close());

  it("answers 400 naming --embedding-model", async () => {
    const c = new OpenAI({ baseURL: `${bare.url}/v1`, apiKey: "unused" });
    const f = await c.files.create({ file: await toFile(Buffer.from("hello"), "a.txt"), purpose: "assistants" });
    await assert.rejects(c.vectorStores.create({ name: "x", file_ids: [f.id] }), (err: any) => err.status === 400 && /--embedding-model/.test(err.message));
    const store = await c.vectorStores.create({ name: "empty" });
    await assert.rejects(c.vectorStores.search(store.id, { query: "hello" }), (err: any) => err.status === 400 && /--embedding-model/.test(err.message));
  });
});
