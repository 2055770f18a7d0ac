/** The Responses API's file_search tool over an in-process Retriever (a small lexical one built here). */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { ApiError } from "../src/api/errors.js";
import type { RetrievalOptions, RetrievalResult, Retriever } from "../src/rag/types.js";
import type { NimbleServer } from "../src/nimble.js";
import { startTinyServer } from "./helpers.js";

const DOCS = [
  { vectorStoreId: "vs_a", fileId: "file_llama", filename: "llamas.md", text: "Llamas live in the Andes and hum to each other." },
  { vectorStoreId: "vs_a", fileId: "file_alpaca", filename: "alpacas.md", text: "Alpacas are smaller than llamas and grown for fleece." },
  { vectorStoreId: "vs_b", fileId: "file_cat", filename: "cats.md", text: "Cats sleep most of the day." },
];

/** Ranks chunks by the words they share with the query. */
class WordRetriever implements Retriever {
  readonly calls: { ids: readonly string[]; query: string; options?: RetrievalOptions }[] = [];
  async search(ids: readonly string[], query: string | readonly string[], options?: RetrievalOptions): Promise<RetrievalResult> {
    const q = typeof query === "string" ? query : query.join(" ");
    this.calls.push({ ids, query: q, options });
    for (const id of ids) if (!DOCS.some((d) => d.vectorStoreId === id)) throw new ApiError(404, `No vector store found with id '${id}'.`, "invalid_request_error", "vector_store_ids", "not_found");
    const words = new Set(q.toLowerCase().match(/\w+/g) ?? []);
    const results = DOCS.filter((d) => ids.includes(d.vectorStoreId))
      .map((d) => ({ d, score: (d.text.toLowerCase().match(/\w+/g) ?? []).filter((w) => words.has(w)).length / 10 }))
      .filter((r) => r.score > 0)
      .sort((a, b) => b.score - a.score)
      .slice(0, options?.maxResults ?? 10)
      .map(({ d, score }) => ({ vectorStoreId: d.vectorStoreId, fileId: d.fileId, filename: d.filename, attributes: {}, score, chunk: { index: 0, text: d.text, tokens: 10, headingPath: [], charStart: 0, charEnd: d.text.length } }));
    return { searchQuery: q, truncated: false, results };
  }
}

const retriever = new WordRetriever();
let server: NimbleServer;
let client: OpenAI;

describe("Responses API file_search", () => {
  before(async () => {
    server = await startTinyServer({ retriever, threads: 1 });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
  });
  after(async () => server.close());

  it("searches, puts the sources in the prompt, and cites their files", async () => {
    const tools = [{ type: "file_search" as const, vector_store_ids: ["vs_a"], max_num_results: 2 }];
    const res = await client.responses.create({ model: "tiny", input: "Where do llamas live?", tools, include: ["file_search_call.results"], max_output_tokens: 6, temperature: 0 });
    assert.equal(retriever.calls.at(-1)!.query, "Where do llamas live?");
    assert.equal(retriever.calls.at(-1)!.options?.maxResults, 2);
    const call = res.output[0] as OpenAI.Responses.ResponseFileSearchToolCall;
    assert.equal(call.type, "file_search_call");
    assert.deepEqual(call.queries, ["Where do llamas live?"]);
    assert.deepEqual(call.results!.map((r) => r.file_id), ["file_llama", "file_alpaca"]);
    const message = res.output[1] as OpenAI.Responses.ResponseOutputMessage;
    const text = message.content[0] as OpenAI.Responses.ResponseOutputText;
    assert.deepEqual(text.annotations.map((a: any) => [a.type, a.file_id, a.filename, a.index]), [["file_citation", "file_llama", "llamas.md", text.text.length], ["file_citation", "file_alpaca", "alpacas.md", text.text.length]]);
    const plain = await client.responses.create({ model: "tiny", input: "Where do llamas live?", max_output_tokens: 6, temperature: 0 });
    assert.ok(res.usage!.input_tokens > plain.usage!.input_tokens + 20, "the sources are in the prompt");
  });

  it("streams the search events; results only when included; tool_choice none skips the search", async () => {
    const tools = [{ type: "file_search" as const, vector_store_ids: ["vs_a"] }];
    const stream = await client.responses.create({ model: "tiny", input: "llamas", tools, max_output_tokens: 4, stream: true });
    const types: string[] = [];
    let final: any;
    for await (const e of stream) { types.push(e.type); if (e.type === "response.completed" || e.type === "response.incomplete") final = e.response; }
    for (const t of ["response.file_search_call.in_progress", "response.file_search_call.searching", "response.file_search_call.completed", "response.output_text.annotation.added"]) assert.ok(types.includes(t), t);
    assert.equal(final.output[0].results, null);
    const before = retriever.calls.length;
    await client.responses.create({ model: "tiny", input: "llamas", tools, tool_choice: "none", max_output_tokens: 2 });
    assert.equal(retriever.calls.length, before);
  });

  it("an unknown vector store is the retriever's 404", async () => {
    await assert.rejects(client.responses.create({ model: "tiny", input: "x", tools: [{ type: "file_search", vector_store_ids: ["vs_nope"] }] }), OpenAI.NotFoundError);
  });
});

describe("Responses API file_search over a real vector store (end to end)", () => {
  let rag: NimbleServer;
  let c: OpenAI;
  before(async () => {
    const { generateModel, PRESETS } = await import("../src/models/generate.js");
    const { join } = await import("node:path");
    const { tempDir } = await import("./helpers.js");
    const embeddingPath = join(tempDir(), "embed.gguf");
    await generateModel(embeddingPath, { shape: PRESETS.embedding, seed: 7, kind: "embedding" } as never);
    rag = await startTinyServer({ embeddingModel: embeddingPath, threads: 1 });
    c = new OpenAI({ baseURL: `${rag.url}/v1`, apiKey: "unused", maxRetries: 0 });
  });
  after(async () => rag.close());

  it("uploads a file, indexes it, and cites it from file_search", async () => {
    const file = await c.files.create({ file: await OpenAI.toFile(Buffer.from("Llamas live in the Andes and hum to each other."), "llamas.txt"), purpose: "assistants" });
    const store = await c.vectorStores.create({ name: "animals", file_ids: [file.id] } as never);
    for (let i = 0; i < 200; i++) {
      const s = await c.vectorStores.retrieve(store.id);
      if (s.file_counts.in_progress === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const res = await c.responses.create({ model: "tiny", input: "Where do llamas live?", tools: [{ type: "file_search", vector_store_ids: [store.id] }], include: ["file_search_call.results"], max_output_tokens: 4 });
    const call = res.output[0] as OpenAI.Responses.ResponseFileSearchToolCall;
    assert.equal(call.results![0]!.file_id, file.id);
    assert.match(call.results![0]!.text!, /Andes/);
    const text = (res.output[1] as OpenAI.Responses.ResponseOutputMessage).content[0] as OpenAI.Responses.ResponseOutputText;
    assert.equal((text.annotations[0] as any).file_id, file.id);
  });
});
