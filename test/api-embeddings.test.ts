/** POST /v1/embeddings on a generated embedding model (mean pooling): shapes, options, NIM's input_type and truncate. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { createServer, type NimbleServer } from "../src/nimble.js";
import { postJson, tempDir, tinyModelPath } from "./helpers.js";

let server: NimbleServer;
let url: string;
before(async () => {
  const dir = tempDir();
  const embeddingModel = join(dir, "embed.gguf");
  // Same seed as the chat model: same vocabulary, so /tokenize's ids are the embedding model's too.
  await generateModel(embeddingModel, { shape: PRESETS.tiny, seed: 42, poolingType: 1, chatTemplate: null });
  server = await createServer({ model: await tinyModelPath(), embeddingModel, embeddingQueryPrefix: "search_query: ", port: 0, home: dir, logLevel: "error" });
  await server.ready;
  url = server.url;
});
after(async () => server.close());

const embed = async (body: object) => postJson(`${url}/v1/embeddings`, { model: "embed", ...body });
const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const close = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => Math.abs(x - b[i]!) < 1e-5);

describe("embeddings", () => {
  it("embeds strings and arrays of strings into unit vectors, with usage", async () => {
    const { status, json } = await embed({ input: ["hello world", "something else", "hello world"] });
    assert.equal(status, 200, JSON.stringify(json));
    assert.equal(json.object, "list");
    assert.equal(json.model, "embed");
    assert.deepEqual(json.data.map((d: any) => [d.object, d.index]), [["embedding", 0], ["embedding", 1], ["embedding", 2]]);
    const [a, b, c] = json.data.map((d: any) => d.embedding as number[]);
    assert.equal(a.length, 64);
    assert.ok(Math.abs(norm(a) - 1) < 1e-5);
    assert.ok(close(a, c), "same text, same vector");
    assert.ok(!close(a, b));
    assert.ok(json.usage.prompt_tokens > 0);
    assert.equal(json.usage.total_tokens, json.usage.prompt_tokens);
    const single = await embed({ input: "hello world" });
    assert.ok(close(single.json.data[0].embedding, a));
  });

  it("takes token ids, base64, and fewer dimensions", async () => {
    const full = (await embed({ input: "hello world" })).json.data[0].embedding as number[];
    const tokens = (await postJson(`${url}/tokenize`, { prompt: "hello world" })).json.tokens;
    assert.ok(close((await embed({ input: tokens })).json.data[0].embedding, full));
    assert.ok(close((await embed({ input: [tokens, tokens] })).json.data[1].embedding, full));
    const b64 = (await embed({ input: "hello world", encoding_format: "base64" })).json.data[0].embedding as string;
    const buf = Buffer.from(b64, "base64");
    assert.ok(close(Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4)), full));
    const short = (await embed({ input: "hello world", dimensions: 16 })).json.data[0].embedding as number[];
    assert.equal(short.length, 16);
    assert.ok(Math.abs(norm(short) - 1) < 1e-5);
    const head = full.slice(0, 16);
    assert.ok(close(short, head.map((x) => x / norm(head))));
  });

  it("prefixes queries for input_type query", async () => {
    const plain = (await embed({ input: "cats" })).json.data[0].embedding;
    const query = (await embed({ input: "cats", input_type: "query" })).json.data[0].embedding;
    const prefixed = (await embed({ input: "search_query: cats" })).json.data[0].embedding;
    assert.ok(!close(plain, query));
    assert.ok(close(query, prefixed));
    assert.ok(close((await embed({ input: "cats", input_type: "passage" })).json.data[0].embedding, plain), "no passage prefix configured");
  });

  it("rejects over-long input unless told to truncate, naming the limit and the length", async () => {
    const long = "word ".repeat(5000);
    const res = await embed({ input: long });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, "context_length_exceeded");
    assert.match(res.json.error.message, /has \d+ tokens, more than the 4095/);
    const end = await embed({ input: long, truncate: "END" });
    const start = await embed({ input: long, truncate: "START" });
    assert.equal(end.status, 200);
    assert.equal(end.json.usage.prompt_tokens, 4095);
    assert.equal(start.json.usage.prompt_tokens, 4095);
  });

  it("answers bad requests with 400/404 naming the field", async () => {
    for (const [body, status, param] of [
      [{ input: "x", dimensions: 65 }, 400, "dimensions"],
      [{ input: [] }, 400, "input"],
      [{ input: 5 }, 400, "input"],
      [{ input: [1, 99999] }, 400, "input"],
      [{ input: "x", encoding_format: "int8" }, 400, "encoding_format"],
      [{ input: "x", truncate: "MIDDLE" }, 400, "truncate"],
      [{ input: "x", model: "nope" }, 404, "model"],
    ] as const) {
      const res = await postJson(`${url}/v1/embeddings`, { model: "embed", ...body });
      assert.equal(res.status, status, JSON.stringify(body));
      assert.equal(res.json.error.param, param, JSON.stringify(res.json));
    }
  });

  it("lists the embedding model and works with the openai client", async () => {
    const models: any = await (await fetch(`${url}/v1/models`)).json();
    assert.deepEqual(models.data.map((m: any) => m.id), ["tiny", "embed"]);
    assert.equal(models.data[1].nimble.dimensions, 64);
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
    const res = await client.embeddings.create({ model: "embed", input: ["hello world", "cats"] });
    const direct = (await embed({ input: "hello world" })).json.data[0].embedding;
    assert.ok(close(res.data[0]!.embedding, direct));
    assert.equal(res.data.length, 2);
  });

  it("gives concurrent requests the vectors they get alone, and decodes one request's inputs together", async () => {
    const texts = ["hello world", "a much longer sentence, with many more words in it than the first", "x", "cats and dogs", "one more input"];
    const alone: number[][] = [];
    for (const input of texts) alone.push((await embed({ input })).json.data[0].embedding as number[]);
    const together = await Promise.all(texts.map((input) => embed({ input })));
    together.forEach((res, i) => assert.ok(close(res.json.data[0].embedding, alone[i]!), `input ${i}`));
    const counter = async (name: string) => Number(new RegExp(`^${name}\\{model_name="embed"\\} (\\d+)`, "m").exec(await (await fetch(`${url}/metrics`)).text())?.[1]);
    const [decodes, inputs] = [await counter("nimble_embedding_decodes_total"), await counter("nimble_embedding_inputs_total")];
    const batch = await embed({ input: texts });
    batch.json.data.forEach((d: any, i: number) => assert.ok(close(d.embedding, alone[i]!), `batch input ${i}`));
    assert.equal(await counter("nimble_embedding_decodes_total"), decodes + 1, "five inputs, one decode");
    assert.equal(await counter("nimble_embedding_inputs_total"), inputs + 5);
  });

  it("answers 404 when no embedding model is served", async () => {
    const other = await createServer({ model: await tinyModelPath(), port: 0, home: tempDir(), logLevel: "error" });
    try {
      await other.ready;
      const res = await postJson(`${other.url}/v1/embeddings`, { input: "x" });
      assert.equal(res.status, 404);
      assert.match(res.json.error.message, /--embedding-model/);
    } finally {
      await other.close();
    }
  });

  it("serves the chat model's own file for embeddings too, under the same name", async () => {
    const dir2 = tempDir();
    const path = join(dir2, "both.gguf");
    await generateModel(path, { shape: PRESETS.tiny, seed: 42, poolingType: 1 });
    const both = await createServer({ model: path, embeddingModel: path, port: 0, home: dir2, logLevel: "error" });
    try {
      await both.ready;
      const chat = await postJson(`${both.url}/v1/chat/completions`, { model: "both", messages: [{ role: "user", content: "hi" }], max_tokens: 2 });
      assert.equal(chat.status, 200, JSON.stringify(chat.json));
      const embedded = await postJson(`${both.url}/v1/embeddings`, { model: "both", input: "hi" });
      assert.equal(embedded.status, 200, JSON.stringify(embedded.json));
      const { data } = await (await fetch(`${both.url}/v1/models`)).json();
      assert.deepEqual(data.map((m: any) => [m.id, m.nimble.kind]), [["both", "chat"], ["both-embedding", "embedding"]]);
    } finally {
      await both.close();
    }
  });
});
