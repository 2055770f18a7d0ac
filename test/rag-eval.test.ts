/** Retrieval metrics with BEIR's (trec_eval's) definitions, checked by hand, and the BEIR file parsers; the shipped eval set parses. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { evaluateRetrieval, mrrAtK, ndcgAtK, parseQrels, parseQueries, recallAtK } from "../src/rag/eval.js";

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} != ${b}`);

describe("retrieval metrics", () => {
  const judged = new Map([["d1", 2], ["d2", 1], ["d3", 0]]);
  it("recall@k, nDCG@k (linear gain, log2 discount) and MRR@k", () => {
    const ranking = ["x", "d2", "d3", "d1"];
    close(recallAtK(ranking, judged, 1), 0);
    close(recallAtK(ranking, judged, 2), 0.5);
    close(recallAtK(ranking, judged, 10), 1);
    // DCG = 1/log2(3) + 2/log2(5); IDCG = 2/log2(2) + 1/log2(3)
    close(ndcgAtK(ranking, judged, 10), (1 / Math.log2(3) + 2 / Math.log2(5)) / (2 + 1 / Math.log2(3)));
    close(ndcgAtK(["d1", "d2"], judged, 10), 1);
    close(ndcgAtK(["d1"], judged, 1), 1);
    close(mrrAtK(ranking, judged, 10), 0.5);
    close(mrrAtK(ranking, judged, 1), 0);
    close(recallAtK(["d2", "d2", "d2"], judged, 3), 0.5, );
    close(mrrAtK(["x", "x", "d1"], judged, 2), 1 / 2);
  });

  it("averages over judged queries; a query without results scores 0; queries without relevant documents are skipped", () => {
    const qrels = new Map([["q1", new Map([["a", 1]])], ["q2", new Map([["b", 1]])], ["q3", new Map([["c", 0]])]]);
    const report = evaluateRetrieval(new Map([["q1", ["a"]]]), qrels, [1, 10]);
    assert.equal(report.queries, 2);
    close(report.recall[1]!, 0.5);
    close(report.ndcg[10]!, 0.5);
    close(report.mrr[10]!, 0.5);
    assert.deepEqual(Object.keys(report.perQuery), ["q1", "q2"]);
  });

  it("parses BEIR queries.jsonl and qrels.tsv (with or without header, TREC four columns)", () => {
    assert.deepEqual(parseQueries('{"_id":"q1","text":"hello","metadata":{}}\n\n{"_id":2,"text":"x"}\n'), [{ id: "q1", text: "hello" }, { id: "2", text: "x" }]);
    assert.throws(() => parseQueries('{"id":"q1"}'), /line 1/);
    assert.throws(() => parseQueries("nope"), /not JSON/);
    const qrels = parseQrels("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\t2\nq2\td3\t0\n");
    assert.deepEqual([...qrels.get("q1")!], [["d1", 1], ["d2", 2]]);
    assert.deepEqual([...parseQrels("q1\t0\td1\t1\n").get("q1")!], [["d1", 1]]);
    assert.throws(() => parseQrels("h\th\th\nq1\td1\tx\n"), /line 2/);
  });
});

describe("the shipped retrieval set (bench/data/rag-eval)", () => {
  it("every query has judgements and every judged document exists", async () => {
    const dir = join(fileURLToPath(new URL(".", import.meta.url)), "../../bench/data/rag-eval");
    const queries = parseQueries(readFileSync(join(dir, "queries.jsonl"), "utf8"));
    const qrels = parseQrels(readFileSync(join(dir, "qrels.tsv"), "utf8"));
    const { readdirSync } = await import("node:fs");
    const docs = new Set(readdirSync(join(dir, "corpus")));
    assert.ok(queries.length >= 30, `${queries.length} queries`);
    assert.ok(docs.size >= 30, `${docs.size} documents`);
    for (const q of queries) assert.ok(qrels.get(q.id)?.size, `query ${q.id} has judgements`);
    for (const [, judged] of qrels) for (const d of judged.keys()) assert.ok(docs.has(d), `${d} is in corpus/`);
  });
});
