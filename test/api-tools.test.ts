/**
 * Tool calling over HTTP on the random-weight tiny model: forced calls (required, named) are
 * grammar-enforced, so they parse and match the tool's schema whatever the weights; streamed
 * calls reassemble to the non-streamed ones; the openai client reads them; bad tools are 400s.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import OpenAI from "openai";
import { zodFunction } from "openai/helpers/zod";
import { z } from "zod";
import { createServer } from "../src/nimble.js";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { NO_STRAY_BYTES, postJson, postSse, tempDir, useTinyServer } from "./helpers.js";

const tiny = useTinyServer();

const Weather = z.object({ city: z.string().max(10), unit: z.enum(["c", "f"]) });
const Search = z.object({ query: z.string().max(12), limit: z.number().int() });
const tools = [
  { type: "function", function: { name: "get_weather", description: "Current weather", parameters: { type: "object", properties: { city: { type: "string", maxLength: 10 }, unit: { enum: ["c", "f"] } }, required: ["city", "unit"], additionalProperties: false } } },
  { type: "function", function: { name: "search", parameters: { type: "object", properties: { query: { type: "string", maxLength: 12 }, limit: { type: "integer" } }, required: ["query", "limit"], additionalProperties: false } } },
];
const SCHEMAS: Record<string, z.ZodTypeAny> = { get_weather: Weather, search: Search };
const messages = [{ role: "user", content: "What is the weather in Paris?" }];
const base = { messages, tools, max_tokens: 300, logit_bias: NO_STRAY_BYTES };

function assertValidCalls(calls: { id: string; type: string; function: { name: string; arguments: string } }[]) {
  assert.ok(calls.length >= 1);
  for (const call of calls) {
    assert.match(call.id, /^call_[0-9a-f]{24}$/);
    assert.equal(call.type, "function");
    const schema = SCHEMAS[call.function.name];
    assert.ok(schema, `unknown tool ${call.function.name}`);
    const parsed = schema.safeParse(JSON.parse(call.function.arguments));
    assert.ok(parsed.success, `${call.function.arguments}: ${parsed.error?.message}`);
  }
}

/** Folds streamed chunks into content and calls, the way OpenAI's clients do. */
function reassemble(events: any[]) {
  let content = "";
  const calls: { id: string; type: string; function: { name: string; arguments: string } }[] = [];
  let finish: string | null = null;
  for (const e of events) {
    if (e === "[DONE]") continue;
    const choice = e.choices[0];
    if (!choice) continue;
    content += choice.delta.content ?? "";
    for (const d of choice.delta.tool_calls ?? []) {
      if (d.id) calls[d.index] = { id: d.id, type: d.type, function: { name: d.function.name, arguments: "" } };
      calls[d.index]!.function.arguments += d.function.arguments ?? "";
    }
    finish = choice.finish_reason ?? finish;
  }
  return { content, calls, finish };
}

describe("tool calling", () => {
  it("tool_choice required: every sample is one or more valid calls, finish_reason tool_calls, no content", async () => {
    for (const seed of [1, 2, 3]) {
      const { status, json } = await postJson(`${tiny.url}/v1/chat/completions`, { ...base, tool_choice: "required", seed });
      assert.equal(status, 200, JSON.stringify(json));
      const choice = json.choices[0];
      assert.equal(choice.finish_reason, "tool_calls");
      assert.equal(choice.message.content, null);
      assertValidCalls(choice.message.tool_calls);
    }
  });

  it("a named function with parallel_tool_calls false: exactly one call of that function", async () => {
    for (const seed of [4, 5]) {
      const { json } = await postJson(`${tiny.url}/v1/chat/completions`, { ...base, tool_choice: { type: "function", function: { name: "search" } }, parallel_tool_calls: false, seed });
      const calls = json.choices[0].message.tool_calls;
      assert.equal(calls.length, 1);
      assert.equal(calls[0].function.name, "search");
      assertValidCalls(calls);
    }
  });

  it("streams delta.tool_calls that reassemble to the non-streamed calls", async () => {
    const request = { ...base, tool_choice: "required", temperature: 0 };
    const whole = await postJson(`${tiny.url}/v1/chat/completions`, request);
    const events = await postSse(`${tiny.url}/v1/chat/completions`, request);
    const streamed = reassemble(events);
    assert.equal(streamed.finish, "tool_calls");
    assert.equal(streamed.content, "");
    assertValidCalls(streamed.calls);
    assert.deepEqual(streamed.calls.map((c) => c.function), whole.json.choices[0].message.tool_calls.map((c: any) => c.function));
    // The arguments arrive in several fragments, the first fragment of each call carries id and name.
    const fragments = events.filter((e) => e !== "[DONE]" && e.choices[0]?.delta.tool_calls).length;
    assert.ok(fragments > streamed.calls.length * 2, `only ${fragments} fragments`);
  });

  it("auto: a call the model writes is parsed out of its text, content kept apart", async () => {
    // A random model does not call tools by itself: a grammar makes it write a call, tool_choice stays auto.
    const guided_grammar = String.raw`root ::= "Checking.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"" [a-z]{1,8} "\", \"unit\": \"c\"}}\n</tool_call>"`;
    const request = { ...base, tool_choice: "auto", guided_grammar, seed: 7 };
    const { json } = await postJson(`${tiny.url}/v1/chat/completions`, request);
    const choice = json.choices[0];
    assert.equal(choice.finish_reason, "tool_calls");
    assert.equal(choice.message.content, "Checking.");
    assertValidCalls(choice.message.tool_calls);
    const streamed = reassemble(await postSse(`${tiny.url}/v1/chat/completions`, request));
    assert.equal(streamed.content, "Checking.");
    assert.deepEqual(streamed.calls.map((c) => c.function), choice.message.tool_calls.map((c: any) => c.function));
  });

  it("auto on plain text: content as generated, finish_reason stop or length, no tool_calls", async () => {
    const plain = await postJson(`${tiny.url}/v1/chat/completions`, { messages, max_tokens: 20, seed: 1 });
    const { json } = await postJson(`${tiny.url}/v1/chat/completions`, { ...base, max_tokens: 20, seed: 1, logit_bias: undefined, tool_choice: "none" });
    assert.equal(json.choices[0].message.tool_calls, undefined);
    assert.equal(json.choices[0].message.content, plain.json.choices[0].message.content, "tool_choice none renders no tools");
    const auto = await postJson(`${tiny.url}/v1/chat/completions`, { ...base, max_tokens: 20, seed: 1 });
    assert.equal(typeof auto.json.choices[0].message.content, "string");
    assert.ok(["stop", "length"].includes(auto.json.choices[0].finish_reason));
  });

  it("accepts the calls and tool results back in the conversation", async () => {
    const conversation = [
      ...messages,
      { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris","unit":"c"}' } }] },
      { role: "tool", tool_call_id: "call_1", content: '{"temperature": 18}' },
    ];
    const { status, json } = await postJson(`${tiny.url}/v1/chat/completions`, { ...base, messages: conversation, max_tokens: 5 });
    assert.equal(status, 200, JSON.stringify(json));
    const rendered = await postJson(`${tiny.url}/tokenize`, { messages: conversation, tools, add_special_tokens: false });
    const { json: text } = await postJson(`${tiny.url}/detokenize`, { tokens: rendered.json.tokens });
    assert.match(text.prompt, /<tool_call>\n\{"name":"get_weather","arguments":\{"city":"Paris","unit":"c"\}\}\n<\/tool_call>/);
    assert.match(text.prompt, /<tool_response>\n\{"temperature": 18\}\n<\/tool_response>/);
    assert.match(text.prompt, /<tools>/);
  });

  it("bad tool requests are 400s naming the field", async () => {
    const cases: [object, string, RegExp][] = [
      [{ tool_choice: { type: "function", function: { name: "nope" } } }, "tool_choice.function.name", /no tool named "nope"/],
      [{ tools: undefined, tool_choice: "required" }, "tool_choice", /no tools are given/],
      [{ tools: [tools[0], tools[0]] }, "tools.1.function.name", /duplicate tool name/],
      [{ tools: [{ type: "function", function: { name: "bad name!" } }] }, "tools.0.function.name", /function names/],
      [{ tool_choice: "required", tools: [{ type: "function", function: { name: "f", parameters: { type: "object", properties: { n: { type: "number", minimum: 1 } } } } }] }, "tools[0].function.parameters.properties.n.minimum", /numeric bounds/],
      [{ tool_choice: "required", response_format: { type: "json_object" } }, "tool_choice", /cannot be combined with response_format/],
      [{ functions: [{ name: "f" }] }, "functions", /deprecated.*use tools/],
      [{ messages: [{ role: "tool", content: "x" }] }, "messages.0.tool_call_id", /Required/],
    ];
    for (const [patch, param, message] of cases) {
      const { status, json } = await postJson(`${tiny.url}/v1/chat/completions`, { ...base, ...patch });
      assert.equal(status, 400, `${JSON.stringify(patch)}: ${JSON.stringify(json)}`);
      assert.equal(json.error.param, param, JSON.stringify(json));
      assert.match(json.error.message, message);
      assert.equal(json.error.type, "invalid_request_error");
    }
  });

  it("works with the openai client: create, stream and parse with zodFunction", async () => {
    const client = new OpenAI({ baseURL: `${tiny.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const created = await client.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "weather?" }], tools: tools as never, tool_choice: "required", max_tokens: 300, seed: 3, logit_bias: NO_STRAY_BYTES });
    assert.equal(created.choices[0]!.finish_reason, "tool_calls");
    assertValidCalls(created.choices[0]!.message.tool_calls as never);

    const stream = client.beta.chat.completions.stream({ model: "tiny", messages: [{ role: "user", content: "weather?" }], tools: tools as never, tool_choice: "required", max_tokens: 300, seed: 3, logit_bias: NO_STRAY_BYTES });
    const final = await stream.finalChatCompletion();
    assert.deepEqual(final.choices[0]!.message.tool_calls!.map((c) => c.function), created.choices[0]!.message.tool_calls!.map((c) => c.function));

    const parsed = await client.beta.chat.completions.parse({
      model: "tiny",
      messages: [{ role: "user", content: "weather?" }],
      tools: [zodFunction({ name: "get_weather", parameters: Weather })],
      tool_choice: { type: "function", function: { name: "get_weather" } },
      max_tokens: 300,
      seed: 5,
      logit_bias: NO_STRAY_BYTES,
    });
    const call = parsed.choices[0]!.message.tool_calls![0]!;
    assert.equal(call.function.name, "get_weather");
    assert.ok(Weather.safeParse(call.function.parsed_arguments).success, JSON.stringify(call.function.parsed_arguments));
  });
});

describe("tool calling with a model template that renders tools", () => {
  it("passes tools to the template and parses the <tool_call> format it teaches", async () => {
    // A Hermes/Qwen-style template, reduced to what matters.
    const template =
      "{% if tools %}<|im_start|>system\nTOOLS:{% for t in tools %} {{ t.function.name }}{% endfor %}\nAnswer with <tool_call></tool_call>.<|im_end|>\n{% endif %}" +
      "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}{% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>{{ c.function.name }} {{ c.function.arguments | tojson }}</tool_call>{% endfor %}{% endif %}<|im_end|>\n{% endfor %}" +
      "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
    const dir = tempDir();
    const path = join(dir, "hermes.gguf");
    await generateModel(path, { shape: PRESETS.tiny, chatTemplate: template });
    const server = await createServer({ model: path, port: 0, home: dir, logLevel: "error", servedModelName: "hermes" });
    try {
      await server.ready;
      const conversation = [...messages, { role: "assistant", content: "", tool_calls: [{ id: "c1", type: "function", function: { name: "search", arguments: '{"query":"x","limit":1}' } }] }, { role: "tool", tool_call_id: "c1", content: "ok" }];
      const rendered = await postJson(`${server.url}/tokenize`, { messages: conversation, tools, add_special_tokens: false });
      const { json: text } = await postJson(`${server.url}/detokenize`, { tokens: rendered.json.tokens });
      // (Special tokens such as <|im_start|> detokenize to nothing; Jinja drops a newline after a block tag.)
      assert.match(text.prompt, /^system\nTOOLS: get_weather search/);
      assert.match(text.prompt, /<tool_call>search \{"query": "x", "limit": 1\}<\/tool_call>/);
      assert.match(text.prompt, /\ntool\nok\n/);
      assert.doesNotMatch(text.prompt, /<tools>/, "no generic prompt when the template renders tools");
      const { json } = await postJson(`${server.url}/v1/chat/completions`, { ...base, tool_choice: "required", seed: 1 });
      assert.equal(json.choices[0].finish_reason, "tool_calls");
      assertValidCalls(json.choices[0].message.tool_calls);
    } finally {
      await server.close();
    }
  });
});
