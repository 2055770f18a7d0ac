/**
 * `nimble rag` against a running server on generated models: ingest folders and globs (resumable),
 * ls, search, grounded chat on what the CLI ingested, eval (BEIR metrics), rm; and the metrics'
 * definitions on hand-computed cases.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { createServer, type NimbleServer } from "../src/nimble.js";
import { docId } from "../src/cli/commands/rag.js";
import { mrrAtK, ndcgAtK, recallAtK } from "../src/rag/eval.js";
import { postJson, tempDir, tinyModelPath } from "./helpers.js";

const CLI = fileURLToPath(new URL("../../bin/nimble.cjs", import.meta.url));
const exec = promisify(execFile);

let server: NimbleServer;
let docs: string;
const rag = async (...args: string[]) => {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, "rag", ...args, "--url", server.url], { cwd: docs });
    return { code: 0, stdout, stderr };
  } catch (err: any) {
    return { code: err.code as number, stdout: err.stdout as string, stderr: err.stderr as string };
  }
};

before(async () => {
  const home = tempDir();
  const embeddingModel = join(home, "embed.gguf");
  await generateModel(embeddingModel, { shape: PRESETS.tiny, seed: 42, poolingType: 1, chatTemplate: null });
  server = await createServer({ model: await tinyModelPath(), servedModelName: "tiny", port: 0, home, threads: 1, logLevel: "error", embeddingModel, embeddingCtxSize: 256 });
  await server.ready;
  docs = tempDir();
  mkdirSync(join(docs, "handbook", "hr"), { recursive: true });
  writeFileSync(join(docs, "handbook", "hr", "leave.md"), "# Leave\n\nParental leave lasts sixteen weeks for every parent.\n");
  writeFileSync(join(docs, "handbook", "expenses.md"), "# Expenses\n\nExpense reports are reimbursed within thirty days.\n");
  writeFileSync(join(docs, "travel.txt"), "Flights are booked through the travel desk.\n");
});
after(async () => server?.close());

describe("nimble rag", () => {
  it("ingests folders and globs, then skips what is already indexed", async () => {
    const first = await rag("ingest", "handbook", "*.txt", "--store", "kb");
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /kb: 3 indexed, 0 already indexed, 0 failed/);
    assert.match(first.stderr, /3\/3 files, \d+ chunks .* chunks, .* embeddings/);
    const again = await rag("ingest", "handbook", "travel.txt", "--store", "kb");
    assert.match(again.stdout, /kb: 0 indexed, 3 already indexed, 0 failed/);
    const files = await rag("ls", "kb");
    assert.match(files.stdout, /completed .*handbook\/hr\/leave\.md/);
  });

  it("searches with file, heading and score, and grounds a chat in what it ingested", async () => {
    const out = await rag("search", "kb", "parental", "leave", "-k", "2");
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^1\. [01]\.\d{3} {2}handbook\/hr\/leave\.md · Leave\n {3}.*Parental leave/m);
    const chat = await postJson(`${server.url}/v1/chat/completions`, { model: "rag:kb", messages: [{ role: "user", content: "How long is parental leave?" }], max_tokens: 2 });
    assert.equal(chat.status, 200, JSON.stringify(chat.json));
    assert.equal(chat.json.grounded, true);
    assert.ok(chat.json.choices[0].message.citations.some((c: any) => c.filename === "leave.md"));
  });

  it("evaluates retrieval with recall@k, nDCG@10 and MRR", async () => {
    writeFileSync(join(docs, "q.jsonl"), '{"_id":"q1","text":"parental leave weeks"}\n{"_id":"q2","text":"expense reports reimbursed"}\n');
    writeFileSync(join(docs, "qrels.tsv"), "query-id\tcorpus-id\tscore\nq1\tleave\t1\nq2\texpenses\t1\n");
    const out = await rag("eval", "--store", "kb", "--queries", "q.jsonl", "--qrels", "qrels.tsv", "--embedding-weight", "0", "--json");
    assert.equal(out.code, 0, out.stderr);
    const result = JSON.parse(out.stdout);
    assert.equal(result.queries, 2);
    assert.equal(result["recall@5"], 1);
    assert.equal(result["mrr@10"], 1, "BM25 alone puts the document with the words first");
  });

  it("--retrieval bm25|dense|hybrid chooses the lists: the runs differ and match the API's hybrid_search weights", async () => {
    const evalRun = async (mode: string) => {
      const out = await rag("eval", "--store", "kb", "--queries", "q.jsonl", "--qrels", "qrels.tsv", "--ranker", "none", "--retrieval", mode, "--json");
      assert.equal(out.code, 0, out.stderr);
      return JSON.parse(out.stdout);
    };
    const [bm25, dense, hybrid] = [await evalRun("bm25"), await evalRun("dense"), await evalRun("hybrid")];
    assert.deepEqual(bm25.hybrid_search, { embedding_weight: 0, text_weight: 1 });
    assert.deepEqual(dense.hybrid_search, { embedding_weight: 1, text_weight: 0 });
    assert.deepEqual(hybrid.hybrid_search, { embedding_weight: 1, text_weight: 1 });
    assert.notDeepEqual(bm25.run, dense.run, "BM25 alone and dense alone retrieve differently");
    assert.deepEqual(bm25.run.q1, ["leave"], "BM25 returns only the document with the words");
    assert.equal(dense.run.q1.length, 3, "dense ranks every document");
    const stores = await fetch(`${server.url}/v1/vector_stores`).then((r) => r.json());
    const kb = stores.data.find((st: any) => st.name === "kb");
    const api = await postJson(`${server.url}/v1/vector_stores/${kb.id}/search`, { query: "expense reports reimbursed", max_num_results: 50, ranking_options: { ranker: "none", hybrid_search: { embedding_weight: 1, text_weight: 0 } } });
    assert.deepEqual(dense.run.q2, [...new Set(api.json.data.map((r: any) => r.filename.replace(/\.[^.]+$/, "")))]);
    const both = await rag("eval", "--store", "kb", "--queries", "q.jsonl", "--qrels", "qrels.tsv", "--retrieval", "bm25", "--text-weight", "1");
    assert.equal(both.code, 1);
    assert.match(both.stderr, /not both/);
    const bad = await rag("search", "kb", "leave", "--retrieval", "sparse");
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /bm25, dense or hybrid/);
  });

  it("ingest --redact-pii creates a redacting store; it refuses a store that exists without it", async () => {
    writeFileSync(join(docs, "contact.md"), "# Contact\n\nWrite to jane.doe@quokkamail.example or call +1 415 555 0199 for a badge.\n");
    const out = await rag("ingest", "contact.md", "--store", "pii", "--redact-pii");
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /pii: 1 indexed.*PII redacted/);
    const search = await rag("search", "pii", "badge", "--retrieval", "dense", "--ranker", "none");
    assert.match(search.stdout, /Write to \[EMAIL\] or call \[PHONE\] for a badge/);
    assert.doesNotMatch(search.stdout, /quokkamail|0199/);
    const refused = await rag("ingest", "contact.md", "--store", "kb", "--redact-pii");
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr.trim().split("\n").length, 1);
    assert.match(refused.stderr, /exists without PII redaction/);
    await rag("rm", "pii");
  });

  it("removes a file, then the store; errors are one line", async () => {
    const rm = await rag("rm", "kb", "travel.txt");
    assert.match(rm.stdout, /removed travel\.txt/);
    const stores = await fetch(`${server.url}/v1/vector_stores`).then((r) => r.json());
    const search = await postJson(`${server.url}/v1/vector_stores/${stores.data[0].id}/search`, { query: "travel desk flights" });
    assert.ok(search.json.data.every((r: any) => r.filename !== "travel.txt"));
    assert.match((await rag("rm", "kb")).stdout, /deleted kb/);
    const missing = await rag("search", "kb", "x");
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim().split("\n").length, 1);
    assert.match(missing.stderr, /no vector store named or with id "kb"/);
  });
});

describe("retrieval metrics (BEIR definitions)", () => {
  it("computes recall@k, nDCG@k and MRR on hand-worked cases", () => {
    const qrels = new Map(Object.entries({ a: 1, b: 2, c: 0 }));
    assert.equal(recallAtK(["x", "a", "y"], qrels, 2), 0.5);
    assert.equal(recallAtK(["b", "a"], qrels, 2), 1);
    assert.equal(mrrAtK(["x", "c", "b"], qrels, 10), 1 / 3);
    const dcg = 1 / Math.log2(3) + 2 / Math.log2(4);
    const ideal = 2 + 1 / Math.log2(3);
    assert.ok(Math.abs(ndcgAtK(["x", "a", "b"], qrels, 10) - dcg / ideal) < 1e-12);
    assert.equal(ndcgAtK(["b", "a"], qrels, 10), 1);
    assert.equal(ndcgAtK(["a", "a", "b"], qrels, 2), ndcgAtK(["a", "b"], qrels, 2), "a duplicate counts once");
  });

  it("names a result's document as the qrels do: doc_id, else the file name, else the name without extension", () => {
    const judged = new Set(["parental-leave.md", "leave"]);
    assert.equal(docId({ filename: "parental-leave.md" }, judged), "parental-leave.md");
    assert.equal(docId({ filename: "leave.md" }, judged), "leave");
    assert.equal(docId({ filename: "x.md", attributes: { doc_id: 7 } }, judged), "7");
  });
});
