/** POST /v1/ranking (NIM) and /v1/rerank (Cohere/Jina/llama.cpp/vLLM) on a generated BERT reranker: order, scores, options, truncation, bad input. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RerankEngine } from "../src/engine/rerank-engine.js";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { createServer, type NimbleServer } from "../src/nimble.js";
import { postJson, tempDir, tinyModelPath } from "./helpers.js";

let server: NimbleServer;
let url: string;
before(async () => {
  const dir = tempDir();
  const rerankModel = join(dir, "rerank.gguf");
  await generateModel(rerankModel, { shape: PRESETS.reranker, seed: 42 });
  // One thread: on a shared 2-core machine two spinning threads made each pair ~100x slower.
  server = await createServer({ model: await tinyModelPath(), servedModelName: "tiny", rerankModel, threads: 1, port: 0, home: dir, logLevel: "error" });
  await server.ready;
  url = server.url;
});
after(async () => server.close());

const query = "where did the cat sleep";
const passages = ["the cat slept on the mat", "stock prices fell sharply", "a dog barked all night", "cats sleep most of the day", "the mat"];
const ranking = async (body: object) => postJson(`${url}/v1/ranking`, { model: "rerank", query: { text: query }, passages: passages.map((text) => ({ text })), ...body });
const rerank = async (body: object, path = "/v1/rerank") => postJson(`${url}${path}`, { model: "rerank", query, documents: passages, ...body });
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
/** Logit of each passage, by index. */
const logitsOf = (rankings: { index: number; logit: number }[]) => {
  const out: number[] = [];
  for (const r of rankings) out[r.index] = r.logit;
  return out;
};

describe("reranking", () => {
  it("POST /v1/ranking ranks every passage by logit, most relevant first, with usage", async () => {
    const { status, json } = await ranking({});
    assert.equal(status, 200, JSON.stringify(json));
    const rankings = json.rankings as { index: number; logit: number }[];
    assert.deepEqual(rankings.map((r) => r.index).sort(), [0, 1, 2, 3, 4]);
    for (let i = 1; i < rankings.length; i++) assert.ok(rankings[i - 1]!.logit >= rankings[i]!.logit, JSON.stringify(rankings));
    assert.equal(new Set(rankings.map((r) => r.logit)).size, passages.length, "distinct passages, distinct logits");
    assert.ok(json.usage.prompt_tokens > passages.length);
    assert.equal(json.usage.total_tokens, json.usage.prompt_tokens);
  });

  it("is deterministic, and a passage's logit does not depend on the others in the request", async () => {
    const a = (await ranking({})).json.rankings;
    const b = (await ranking({})).json.rankings;
    assert.deepEqual(a, b);
    const alone = (await postJson(`${url}/v1/ranking`, { query: { text: query }, passages: [{ text: passages[3] }] })).json.rankings;
    assert.deepEqual(alone, [{ index: 0, logit: logitsOf(a)[3] }]);
    // Concurrent requests are served one after another on the one context: same answers.
    const [c, d] = await Promise.all([ranking({}), postJson(`${url}/v1/ranking`, { query: { text: query }, passages: [{ text: passages[3] }] })]);
    assert.deepEqual(c.json.rankings, a);
    assert.deepEqual(d.json.rankings, alone);
  });

  it("POST /v1/rerank returns sigmoid(logit) scores in [0, 1], sorted, at /v1/rerank, /rerank and /v2/rerank", async () => {
    const logits = logitsOf((await ranking({})).json.rankings);
    const { status, json } = await rerank({});
    assert.equal(status, 200, JSON.stringify(json));
    assert.match(json.id, /^rerank-/);
    assert.equal(json.model, "rerank");
    const results = json.results as { index: number; relevance_score: number; document?: unknown }[];
    assert.equal(results.length, passages.length);
    for (const r of results) {
      assert.ok(r.relevance_score >= 0 && r.relevance_score <= 1);
      assert.equal(r.relevance_score, sigmoid(logits[r.index]!));
      assert.equal(r.document, undefined);
    }
    for (let i = 1; i < results.length; i++) assert.ok(results[i - 1]!.relevance_score >= results[i]!.relevance_score);
    assert.ok(json.usage.prompt_tokens > 0);
    for (const path of ["/rerank", "/v2/rerank"]) {
      const alias = await rerank({}, path);
      assert.equal(alias.status, 200);
      assert.deepEqual(alias.json.results, results);
    }
    const objects = await rerank({ documents: passages.map((text) => ({ text })) });
    assert.deepEqual(objects.json.results, results, "{text} objects score as strings do");
  });

  it("honours top_n and return_documents", async () => {
    const all = (await rerank({})).json.results;
    const top = await rerank({ top_n: 2, return_documents: true });
    assert.equal(top.status, 200);
    assert.deepEqual(
      top.json.results,
      all.slice(0, 2).map((r: any) => ({ ...r, document: { text: passages[r.index] } })),
    );
    assert.equal((await rerank({ top_n: 50 })).json.results.length, passages.length, "top_n beyond the documents returns them all");
  });

  it("rejects an over-long pair with truncate NONE, naming the limit and the length; END cuts the passage", async () => {
    const long = "the cat slept ".repeat(400);
    const body = { query: { text: query }, passages: [{ text: "short" }, { text: long }] };
    for (const truncate of [undefined, "NONE"]) {
      const res = await postJson(`${url}/v1/ranking`, { ...body, truncate });
      assert.equal(res.status, 400, JSON.stringify(res.json));
      assert.equal(res.json.error.code, "context_length_exceeded");
      assert.equal(res.json.error.param, "passages.1");
      assert.match(res.json.error.message, /passage 1 take \d{4} tokens, more than the 512 this model takes/);
    }
    const cohere = await rerank({ documents: ["short", long] });
    assert.equal(cohere.status, 400);
    assert.equal(cohere.json.error.param, "documents.1");
    assert.match(cohere.json.error.message, /document 1 take \d{4} tokens, more than the 512/);

    const end = await postJson(`${url}/v1/ranking`, { ...body, truncate: "END" });
    assert.equal(end.status, 200, JSON.stringify(end.json));
    const short = (await postJson(`${url}/v1/ranking`, { query: { text: query }, passages: [{ text: "short" }] })).json;
    assert.equal(end.json.usage.prompt_tokens, short.usage.prompt_tokens + 512, "the long pair fills the context exactly");
    assert.equal(logitsOf(end.json.rankings)[0], short.rankings[0].logit);
    assert.equal((await rerank({ documents: ["short", long], truncate: "END" })).status, 200);

    const longQuery = await postJson(`${url}/v1/ranking`, { query: { text: long }, passages: [{ text: "short" }], truncate: "END" });
    assert.equal(longQuery.status, 400);
    assert.equal(longQuery.json.error.param, "query.text");
    assert.match(longQuery.json.error.message, /The query takes \d{4} tokens .*more than the 512/);
  });

  it("answers bad requests with 400/404 in OpenAI's shape, naming the field", async () => {
    const cases: [string, object, number, string | null][] = [
      ["/v1/ranking", { query: { text: "q" }, passages: [] }, 400, "passages"],
      ["/v1/ranking", { query: { text: "q" } }, 400, "passages"],
      ["/v1/ranking", { query: "q", passages: [{ text: "p" }] }, 400, "query"],
      ["/v1/ranking", { query: { text: "" }, passages: [{ text: "p" }] }, 400, "query.text"],
      ["/v1/ranking", { query: { text: "q" }, passages: [{ text: "" }] }, 400, "passages.0.text"],
      ["/v1/ranking", { query: { text: "q" }, passages: ["p"] }, 400, "passages.0"],
      ["/v1/ranking", { query: { text: "q" }, passages: [{ text: "p" }], truncate: "START" }, 400, "truncate"],
      ["/v1/ranking", { model: "nope", query: { text: "q" }, passages: [{ text: "p" }] }, 404, "model"],
      ["/v1/rerank", { query: "q", documents: [] }, 400, "documents"],
      ["/v1/rerank", { query: "q", documents: ["a", ""] }, 400, "documents.1"],
      ["/v1/rerank", { query: "q", documents: [5] }, 400, "documents.0"],
      ["/v1/rerank", { query: "", documents: ["a"] }, 400, "query"],
      ["/v1/rerank", { query: "q", documents: ["a"], top_n: 0 }, 400, "top_n"],
      ["/v1/rerank", { query: "q", documents: ["a"], return_documents: "yes" }, 400, "return_documents"],
      ["/v1/rerank", { query: "q", documents: ["a"], truncate: "MIDDLE" }, 400, "truncate"],
      ["/v1/rerank", { model: "tiny", query: "q", documents: ["a"] }, 400, "model"],
      ["/v1/rerank", { model: "nope", query: "q", documents: ["a"] }, 404, "model"],
      ["/v2/rerank", [1, 2] as unknown as object, 400, null],
    ];
    for (const [path, body, status, param] of cases) {
      const res = await postJson(`${url}${path}`, body);
      assert.equal(res.status, status, `${path} ${JSON.stringify(body)}: ${JSON.stringify(res.json)}`);
      assert.equal(res.json.error.param, param, JSON.stringify(res.json));
      assert.equal(typeof res.json.error.message, "string");
      assert.equal(res.json.error.type, "invalid_request_error");
    }
    assert.match((await rerank({ documents: ["a", ""] })).json.error.message, /'documents.1': must not be empty/);
    assert.match((await rerank({ documents: [5] })).json.error.message, /'documents.0': each document must be a non-empty string or an object with a non-empty text/);
  });

  it("lists the reranker in /v1/models", async () => {
    const models: any = await (await fetch(`${url}/v1/models`)).json();
    assert.deepEqual(models.data.map((m: any) => m.id), ["tiny", "rerank"]);
    assert.equal(models.data[1].nimble.kind, "rerank");
    assert.equal(models.data[1].nimble.state, "loaded");
    assert.equal(models.data[1].max_model_len, 512);
  });

  it("refuses to load a model that has no classification head", async () => {
    await assert.rejects(RerankEngine.load({ modelPath: await tinyModelPath(), servedName: "tiny", gpu: "cpu", threads: 1 }), /is not a reranker: it has no classification head/);
  });

  it("answers 404 naming --rerank-model when no reranker is served", async () => {
    const other = await createServer({ model: await tinyModelPath(), port: 0, home: tempDir(), logLevel: "error" });
    try {
      await other.ready;
      for (const [path, body] of [["/v1/ranking", { query: { text: "q" }, passages: [{ text: "p" }] }], ["/v1/rerank", { query: "q", documents: ["p"] }]] as const) {
        const res = await postJson(`${other.url}${path}`, body);
        assert.equal(res.status, 404);
        assert.equal(res.json.error.code, "model_not_found");
        assert.match(res.json.error.message, /no rerank model; start it with --rerank-model/);
      }
    } finally {
      await other.close();
    }
  });
});
