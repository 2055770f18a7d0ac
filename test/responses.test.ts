/** The Responses API against the official `openai` client: create, stream, tools, state, isolation, restart. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import OpenAI from "openai";
import { startTinyServer, tempDir } from "./helpers.js";
import type { NimbleServer } from "../src/nimble.js";

const home = tempDir();
let server: NimbleServer;
let client: OpenAI;
let other: OpenAI;

const weatherTool = {
  type: "function" as const,
  name: "get_weather",
  description: "Weather in a city",
  parameters: { type: "object", properties: { city: { type: "string", maxLength: 12 } }, required: ["city"], additionalProperties: false },
  strict: true,
};

async function start(): Promise<void> {
  server = await startTinyServer({ home, apiKey: ["key-one", "key-two"], threads: 1 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "key-one", maxRetries: 0 });
  other = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "key-two", maxRetries: 0 });
}

/** Raw SSE frames: each `event:` name and its JSON data. */
async function rawEvents(res: Response): Promise<{ event: string; data: any }[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((f) => f.trim().length > 0)
    .map((f) => {
      const lines = f.split("\n");
      return { event: lines.find((l) => l.startsWith("event: "))!.slice(7), data: JSON.parse(lines.find((l) => l.startsWith("data: "))!.slice(6)) };
    });
}

describe("Responses API", () => {
  before(start);
  after(async () => server.close());

  it("creates a response", async () => {
    const res = await client.responses.create({ model: "tiny", input: "Hello", max_output_tokens: 8, temperature: 0, metadata: { topic: "greeting" } });
    assert.equal(res.object, "response");
    assert.ok(["completed", "incomplete"].includes(res.status!));
    assert.equal(res.output[0]!.type, "message");
    assert.equal(typeof res.output_text, "string");
    assert.ok(res.usage!.input_tokens > 0 && res.usage!.output_tokens > 0);
    assert.deepEqual(res.metadata, { topic: "greeting" });
  });

  it("streams OpenAI's events in order, with the event line and type both, and rising sequence numbers", async () => {
    const stream = await client.responses.create({ model: "tiny", input: "Hello", max_output_tokens: 12, temperature: 0, stream: true });
    const events: any[] = [];
    for await (const e of stream) events.push(e);
    const types = events.map((e) => e.type);
    assert.deepEqual(types.slice(0, 4), ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]);
    assert.ok(types.includes("response.output_text.delta"));
    assert.deepEqual(types.slice(-4, -1), ["response.output_text.done", "response.content_part.done", "response.output_item.done"]);
    assert.ok(["response.completed", "response.incomplete"].includes(types.at(-1)));
    assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i));
    const text = events.filter((e) => e.type === "response.output_text.delta").map((e) => e.delta).join("");
    const final = events.at(-1).response;
    assert.equal(final.output[0].content[0].text, text);
    // Re-attach to the stored stream after event 2; the frames name their events.
    const res = await fetch(`${server.url}/v1/responses/${final.id}?stream=true&starting_after=2`, { headers: { authorization: "Bearer key-one" } });
    const replay = await rawEvents(res);
    assert.deepEqual(replay.map((f) => f.data), events.slice(3));
    for (const f of replay) assert.equal(f.event, f.data.type);
  });

  it("calls a function tool (streamed), then continues with its output", async () => {
    const stream = await client.responses.create({ model: "tiny", input: "Weather in Paris?", tools: [weatherTool], tool_choice: { type: "function", name: "get_weather" }, max_output_tokens: 200, temperature: 0, stream: true });
    const events: any[] = [];
    for await (const e of stream) events.push(e);
    const done = events.find((e) => e.type === "response.function_call_arguments.done");
    assert.ok(done, "a function_call_arguments.done event");
    const deltas = events.filter((e) => e.type === "response.function_call_arguments.delta").map((e) => e.delta).join("");
    assert.equal(deltas, done.arguments);
    const first = events.at(-1).response as OpenAI.Responses.Response;
    const call = first.output.find((i) => i.type === "function_call") as OpenAI.Responses.ResponseFunctionToolCall;
    assert.equal(call.name, "get_weather");
    assert.equal(typeof JSON.parse(call.arguments).city, "string");

    const second = await client.responses.create({ model: "tiny", previous_response_id: first.id, input: [{ type: "function_call_output", call_id: call.call_id, output: "sunny" }], tools: [weatherTool], max_output_tokens: 8, temperature: 0 });
    assert.equal(second.previous_response_id, first.id);
    assert.ok(second.usage!.input_tokens > first.usage!.input_tokens, "the continued prompt holds the first turn");
    assert.ok(second.usage!.input_tokens_details.cached_tokens > 0, "the continued turn reuses the KV cache of the first");

    // The same round trip without stored state: the call and its output sent back as items.
    const stateless = await client.responses.create({
      model: "tiny",
      store: false,
      input: [{ role: "user", content: "Weather in Paris?" }, { type: "function_call", call_id: call.call_id, name: call.name, arguments: call.arguments }, { type: "function_call_output", call_id: call.call_id, output: "sunny" }],
      tools: [weatherTool],
      max_output_tokens: 8,
      temperature: 0,
    });
    assert.equal((stateless as any).store, false);
    await assert.rejects(client.responses.retrieve(stateless.id), OpenAI.NotFoundError);
  });

  it("continues a conversation without carrying instructions over", async () => {
    const first = await client.responses.create({ model: "tiny", instructions: "Answer briefly.", input: "Hi", max_output_tokens: 4, temperature: 0 });
    const second = await client.responses.create({ model: "tiny", previous_response_id: first.id, input: "And then?", max_output_tokens: 4, temperature: 0 });
    assert.equal(second.instructions, null);
    await assert.rejects(client.responses.create({ model: "tiny", previous_response_id: "resp_nope", input: "x" }), (err: any) => err instanceof OpenAI.NotFoundError && err.param === "previous_response_id");
  });

  it("serves a continued conversation from the KV cache: the whole previous prompt is cached", async () => {
    const input = Array.from({ length: 60 }, (_, i) => `line ${i} of a long first message`).join("\n");
    const first = await client.responses.create({ model: "tiny", input, max_output_tokens: 8, temperature: 0 });
    const second = await client.responses.create({ model: "tiny", previous_response_id: first.id, input: "And then?", max_output_tokens: 2, temperature: 0 });
    assert.ok(first.usage!.input_tokens > 300, `a long first turn (${first.usage!.input_tokens} tokens)`);
    // Not prefilled again: the first turn's prompt (and what of its output tokenizes the same) comes from the cache.
    assert.ok(second.usage!.input_tokens_details.cached_tokens >= first.usage!.input_tokens, `${second.usage!.input_tokens_details.cached_tokens} cached of ${second.usage!.input_tokens}, first turn ${first.usage!.input_tokens}`);
    // Control: the same conversation sent whole under other instructions shares only the template's first tokens.
    const cold = await client.responses.create({
      model: "tiny",
      store: false,
      instructions: "Fresh.",
      input: [{ role: "user", content: input }, { role: "assistant", content: first.output_text }, { role: "user", content: "And then?" }],
      max_output_tokens: 2,
      temperature: 0,
    });
    assert.ok(cold.usage!.input_tokens >= second.usage!.input_tokens);
    assert.ok(cold.usage!.input_tokens_details.cached_tokens < 10, `${cold.usage!.input_tokens_details.cached_tokens} cached`);
  });

  it("retrieves, lists input items in pages, and deletes", async () => {
    const res = await client.responses.create({ model: "tiny", input: [{ role: "developer", content: "Be terse." }, { role: "user", content: [{ type: "input_text", text: "One" }] }, { role: "user", content: "Two" }], max_output_tokens: 4, temperature: 0 });
    const got = await client.responses.retrieve(res.id);
    const { output_text: _, ...stored } = res;
    assert.deepEqual(got, stored);
    const page = await client.responses.inputItems.list(res.id, { limit: 2 });
    assert.equal(page.data.length, 2);
    assert.equal((page.data[0] as any).content[0].text, "Two", "newest first by default");
    assert.equal(page.has_more, true);
    const all = [];
    for await (const item of client.responses.inputItems.list(res.id, { limit: 1, order: "asc" })) all.push(item);
    assert.deepEqual(all.map((i: any) => i.content[0].text), ["Be terse.", "One", "Two"]);
    await client.responses.del(res.id);
    await assert.rejects(client.responses.retrieve(res.id), OpenAI.NotFoundError);
    await assert.rejects(client.responses.del(res.id), OpenAI.NotFoundError);
  });

  it("hides a key's responses from every other key", async () => {
    const res = await client.responses.create({ model: "tiny", input: "secret", max_output_tokens: 2 });
    await assert.rejects(other.responses.retrieve(res.id), OpenAI.NotFoundError);
    await assert.rejects(other.responses.inputItems.list(res.id), OpenAI.NotFoundError);
    await assert.rejects(other.responses.del(res.id), OpenAI.NotFoundError);
    await assert.rejects(other.responses.create({ model: "tiny", previous_response_id: res.id, input: "x" }), OpenAI.NotFoundError);
    assert.equal((await client.responses.retrieve(res.id)).id, res.id);
  });

  it("cancels a response being generated", async () => {
    // A grammar that needs at least 400 characters keeps the tiny model busy.
    const format = { type: "json_schema" as const, name: "long", schema: { type: "object", properties: { s: { type: "string", minLength: 400 } }, required: ["s"], additionalProperties: false } };
    const stream = await client.responses.create({ model: "tiny", input: "x", text: { format }, stream: true });
    let id = "";
    let cancelled: any;
    const events: any[] = [];
    for await (const e of stream) {
      events.push(e);
      if (e.type === "response.created") id = e.response.id;
      if (e.type === "response.output_text.delta" && !cancelled) cancelled = await client.post(`/responses/${id}/cancel`);
    }
    assert.equal(cancelled!.status, "cancelled");
    assert.equal(events.at(-1).response.status, "cancelled");
    assert.equal((await client.responses.retrieve(id)).status, "cancelled");
    await assert.rejects(client.responses.cancel(id), OpenAI.BadRequestError);
  });

  it("refuses what it does not support, naming the field", async () => {
    const bad = async (body: Record<string, unknown>, param: string) => {
      await assert.rejects(client.responses.create({ model: "tiny", input: "x", ...body } as any), (err: any) => {
        assert.ok(err instanceof OpenAI.BadRequestError, String(err));
        assert.equal(err.param, param);
        return true;
      });
    };
    await bad({ reasoning: { effort: "high" } }, "reasoning");
    await bad({ background: true }, "background");
    await bad({ tools: [{ type: "web_search_preview" }] }, "tools.0.type");
    await bad({ input: [{ type: "input_image", image_url: "x" }] }, "input.0.type");
    await bad({ frequency_penalty: 1 }, "frequency_penalty");
    await bad({ tools: [{ type: "file_search", vector_store_ids: ["vs_1"] }] }, "tools");
  });

  it("keeps stored responses across a restart", async () => {
    const res = await client.responses.create({ model: "tiny", input: "remember me", max_output_tokens: 3, temperature: 0 });
    await server.close();
    await start();
    const got = await client.responses.retrieve(res.id);
    assert.deepEqual(got.output, res.output);
    const next = await client.responses.create({ model: "tiny", previous_response_id: res.id, input: "again", max_output_tokens: 3 });
    assert.ok(next.usage!.input_tokens > res.usage!.input_tokens);
    await assert.rejects(other.responses.retrieve(res.id), OpenAI.NotFoundError);
  });
});
