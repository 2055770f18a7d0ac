/**
 * The ingestion pipeline's store-level steps, over HTTP with the openai SDK on generated models:
 * PII redaction in a store created with `redact_pii` (not findable by the e-mail, placeholders in
 * the chunks and in /content; a plain store keeps it, as the control), and near-duplicate chunks
 * dropped within a store (one set of chunks for two near-identical documents, file_counts right,
 * the duplicate re-ingested when the original leaves, signatures kept across a restart). Also the
 * LanceDB index's `minhash` column on a table written before it existed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as lancedb from "@lancedb/lancedb";
import OpenAI, { toFile } from "openai";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { createServer, type NimbleServer } from "../src/nimble.js";
import { encodeSignature, minhashSignature } from "../src/rag/dedupe.js";
import { LanceChunkIndex } from "../src/rag/index/lance.js";
import { postJson, tempDir, tinyModelPath, waitFor } from "./helpers.js";

const EMAIL = "jane.doe@quokkamail.example";
const PHONE = "+1 415 555 0199";
const CONTACT = `# Access requests\n\nFor a badge, write to ${EMAIL} or call ${PHONE} before nine.\n\nBadges are printed at the front desk on Mondays.\n`;

const ORIGINAL = `# Heron arm maintenance

The Heron arm's wrist bearings are greased every four hundred operating hours with lithium grease.
Technicians log each service in the maintenance book and replace worn seals at the same visit.

Calibration of the Heron arm follows every bearing service: the arm is homed, the encoder offsets are
read back, and any drift above two tenths of a degree is corrected before the cell restarts.
`;
// The same document re-cased, re-punctuated and lightly edited: a near-duplicate.
const COPY = ORIGINAL.replace("four hundred", "four-hundred").replace("Technicians", "TECHNICIANS").replace("; ", ", ").replace("before the cell", "before the work cell");
const OTHER = "# Pelican gripper\n\nThe Pelican gripper's suction cups are replaced every month; spare cups sit in drawer seven.\n";

let home: string;
let embeddingModel: string;
let server: NimbleServer;
let client: OpenAI;
const start = async () => {
  const s = await createServer({ model: await tinyModelPath(), servedModelName: "tiny", port: 0, home, threads: 1, logLevel: "error", embeddingModel, embeddingCtxSize: 256 });
  await s.ready;
  client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: "unused" });
  return s;
};

before(async () => {
  home = tempDir();
  embeddingModel = join(home, "embed.gguf");
  await generateModel(embeddingModel, { shape: PRESETS.tiny, seed: 42, poolingType: 1, chatTemplate: null });
  server = await start();
});
after(async () => server?.close());

async function settled(storeId: string) {
  await waitFor(async () => (await client.vectorStores.retrieve(storeId)).file_counts.in_progress === 0, 30_000);
  return client.vectorStores.retrieve(storeId);
}

async function upload(text: string, name: string) {
  return client.files.create({ file: await toFile(Buffer.from(text), name), purpose: "assistants" });
}

/** BM25 only (the dense list of random-weight embeddings would return every chunk). */
async function bm25(storeId: string, query: string) {
  const { status, json } = await postJson(`${server.url}/v1/vector_stores/${storeId}/search`, { query, max_num_results: 50, ranking_options: { ranker: "none", hybrid_search: { embedding_weight: 0, text_weight: 1 } } });
  assert.equal(status, 200, JSON.stringify(json));
  return json.data as { file_id: string; content: { text: string }[] }[];
}

/** Every chunk of a store (the dense list ranks them all). */
async function allChunks(storeId: string) {
  const { json } = await postJson(`${server.url}/v1/vector_stores/${storeId}/search`, { query: "badge", max_num_results: 50, ranking_options: { ranker: "none", hybrid_search: { embedding_weight: 1, text_weight: 0 } } });
  return json.data as { file_id: string; content: { text: string }[] }[];
}

describe("PII redaction (a store setting)", () => {
  it("indexes placeholders instead of the e-mail and phone in a redact_pii store; a plain store keeps them", async () => {
    const file = await upload(CONTACT, "access.md");
    const redacting = await client.vectorStores.create({ name: "redacted", file_ids: [file.id], redact_pii: true } as any);
    const plain = await client.vectorStores.create({ name: "plain", file_ids: [file.id] });
    assert.equal((redacting as any).redact_pii, true);
    assert.equal((plain as any).redact_pii, false);
    assert.equal((await settled(redacting.id)).file_counts.completed, 1);
    assert.equal((await settled(plain.id)).file_counts.completed, 1);

    assert.deepEqual(await bm25(redacting.id, EMAIL), [], "the e-mail's words are not in the redacting store's index");
    assert.deepEqual(await bm25(redacting.id, "jane doe quokkamail"), []);
    const found = await bm25(plain.id, EMAIL);
    assert.ok(found.some((r) => r.content[0]!.text.includes(EMAIL)), "control: the plain store finds it");

    const chunks = await allChunks(redacting.id);
    assert.ok(chunks.length > 0);
    const text = chunks.map((c) => c.content[0]!.text).join("\n");
    assert.match(text, /write to \[EMAIL\] or call \[PHONE\] before nine/);
    assert.doesNotMatch(text, /quokkamail|jane|415|0199/);
    assert.ok((await bm25(redacting.id, "badges printed front desk")).length > 0, "the rest of the text is indexed");

    const record = await client.vectorStores.files.retrieve(redacting.id, file.id);
    assert.equal((record as any).pii_redacted, 2);
    const content = await fetch(`${server.url}/v1/vector_stores/${redacting.id}/files/${file.id}/content`).then((r) => r.json());
    assert.match(content.data.map((d: any) => d.text).join("\n"), /\[EMAIL\] or call \[PHONE\]/);
    assert.doesNotMatch(JSON.stringify(content), /quokkamail/);
  });
});

describe("near-duplicate chunks within a store", () => {
  let storeId: string;
  let original: string;
  let copy: string;
  let other: string;

  it("indexes two near-identical documents once, keeps file_counts and status right", async () => {
    original = (await upload(ORIGINAL, "heron.md")).id;
    copy = (await upload(COPY, "heron-copy.md")).id;
    other = (await upload(OTHER, "pelican.md")).id;
    const store = await client.vectorStores.create({ name: "dedupe", file_ids: [original, copy, other] });
    storeId = store.id;
    const done = await settled(storeId);
    assert.deepEqual(done.file_counts, { in_progress: 0, completed: 3, failed: 0, cancelled: 0, total: 3 });
    assert.equal(done.status, "completed");
    const [a, b, c] = await Promise.all([original, copy, other].map((id) => client.vectorStores.files.retrieve(storeId, id) as Promise<any>));
    assert.equal(a.status, "completed");
    assert.ok(a.chunks > 0);
    assert.equal(a.duplicate_chunks, 0);
    assert.equal(b.status, "completed");
    assert.equal(b.chunks, 0, "every chunk of the copy duplicates the original");
    assert.equal(b.duplicate_chunks, a.chunks);
    assert.ok(c.chunks > 0, "a different document keeps its chunks");
    assert.equal(c.duplicate_chunks, 0);
    const hits = await bm25(storeId, "Heron arm wrist bearings grease calibration");
    assert.ok(hits.length > 0);
    assert.ok(hits.every((h) => h.file_id === original), "one set of chunks: the original's");
    assert.equal(new Set((await allChunks(storeId)).map((h) => h.file_id)).size, 2);
  });

  it("keeps signatures across a restart: a third copy is dropped too", async () => {
    await server.close();
    server = await start();
    const third = (await upload(COPY.replace("lithium grease", "lithium-grease"), "heron-third.md")).id;
    await client.vectorStores.files.create(storeId, { file_id: third });
    const done = await settled(storeId);
    assert.equal(done.file_counts.completed, 4);
    const f = (await client.vectorStores.files.retrieve(storeId, third)) as any;
    assert.equal(f.chunks, 0);
    assert.ok(f.duplicate_chunks > 0);
    await client.vectorStores.files.del(storeId, third);
  });

  it("ingests the copy again when the original leaves the store, so its text stays findable", async () => {
    await client.vectorStores.files.del(storeId, original);
    const done = await settled(storeId);
    assert.deepEqual(done.file_counts, { in_progress: 0, completed: 2, failed: 0, cancelled: 0, total: 2 });
    const b = (await client.vectorStores.files.retrieve(storeId, copy)) as any;
    assert.ok(b.chunks > 0);
    assert.equal(b.duplicate_chunks, 0);
    const hits = await bm25(storeId, "Heron arm wrist bearings grease calibration");
    assert.ok(hits.length > 0 && hits.every((h) => h.file_id === copy));
  });
});

describe("the LanceDB index's minhash column", () => {
  it("adds it to a table written without it, and computes the missing signatures from the text", async () => {
    const dir = tempDir();
    const db = await lancedb.connect(dir);
    const row = { id: "file_a:0", file_id: "file_a", chunk_index: 0, text: ORIGINAL, tokens: 10, page: 0, heading_path: "[]", char_start: 0, char_end: ORIGINAL.length, vector: [0.1, 0.2, 0.3, 0.4] };
    (await db.createTable("vs_old", [row])).close();
    db.close();
    const index = await LanceChunkIndex.open(dir);
    assert.ok(Number(process.env.LANCE_CPU_THREADS) >= 4, "LanceDB gets at least 4 compute threads (2 stall its FTS optimize at ~100k chunks)");
    const signature = encodeSignature(minhashSignature(OTHER));
    await index.addFile("vs_old", [{ id: "file_b:0", fileId: "file_b", chunkIndex: 0, text: OTHER, tokens: 5, page: 0, headingPath: [], charStart: 0, charEnd: OTHER.length, vector: Float32Array.from([0.4, 0.3, 0.2, 0.1]), signature }]);
    const rows = (await index.signatures("vs_old")).sort((x, y) => x.id.localeCompare(y.id));
    assert.deepEqual(rows.map((r) => [r.id, r.fileId, r.signature]), [["file_a:0", "file_a", null], ["file_b:0", "file_b", signature]]);
    assert.equal(rows[0]!.text, ORIGINAL);
    assert.equal(await index.count("vs_old"), 2);
    await index.close();
  });

  it("builds the vector index once chunks × dimensions reaches vectorIndexMinValues, and still finds a stored vector first", async () => {
    const dir = tempDir();
    const index = await LanceChunkIndex.open(dir, { vectorIndexMinValues: 600 * 16 });
    let seed = 7;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
    const file = (f: number) => Array.from({ length: 300 }, (_, i) => ({ id: `file_${f}:${i}`, fileId: `file_${f}`, chunkIndex: i, text: `chunk ${f} ${i}`, tokens: 3, page: 0, headingPath: [], charStart: 0, charEnd: 0, vector: Float32Array.from({ length: 16 }, rand) }));
    const vectorIndexed = async () => {
      const db = await lancedb.connect(dir);
      const table = await db.openTable("vs_big");
      const has = (await table.listIndices()).some((i) => i.columns.includes("vector"));
      table.close();
      db.close();
      return has;
    };
    const [a, b] = [file(0), file(1)];
    await index.addFile("vs_big", a);
    await index.addFile("vs_big", b.slice(0, 200));
    await index.optimize("vs_big");
    assert.equal(await vectorIndexed(), false, "500 rows: exact scan");
    await index.addFile("vs_big", b.slice(200));
    await index.optimize("vs_big");
    assert.equal(await vectorIndexed(), true, "600 rows: indexed");
    const target = b[250]!;
    const hits = await index.searchVector("vs_big", target.vector, 10);
    assert.equal(hits[0]!.chunk.id, target.id);
    await index.close();
  });
});
