/**
 * Property-based fuzzing (fast-check) of every JSON endpoint on a real tiny-model server: generated
 * bodies — plausible requests with fields swapped for wrong types, huge numbers, deep nesting, lone
 * surrogates and invalid UTF-8, prototype-pollution keys, garbage — must always get a 4xx error
 * object or a valid response (streamed or not), never a 5xx, a broken stream or a crash.
 *
 * The endpoints are the server's registered POST routes: a new JSON endpoint fails this test until
 * it has a generator below. Runs per endpoint: NIMBLE_FUZZ_RUNS (default 1000: 7,000 requests,
 * ≈20 s here); NIMBLE_FUZZ_RUNS=20000 for a long run. NIMBLE_FUZZ_SEED picks another seed (default fixed, so a
 * failure reproduces; fast-check prints the seed and the shrunk counterexample).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { createServer, type NimbleServer } from "../src/nimble.js";
import { tempDir, tinyModelPath } from "./helpers.js";

const RUNS = Number(process.env.NIMBLE_FUZZ_RUNS ?? 1000);
const SEED = Number(process.env.NIMBLE_FUZZ_SEED ?? 20261124);

let server: NimbleServer;
let storeId: string;
before(async () => {
  const dir = tempDir();
  const embeddingModel = join(dir, "embed.gguf");
  await generateModel(embeddingModel, { shape: PRESETS.tiny, seed: 42, poolingType: 1, chatTemplate: null });
  const rerankModel = join(dir, "rerank.gguf");
  await generateModel(rerankModel, { shape: PRESETS.reranker, seed: 42 });
  // Short generations keep thousands of requests fast: max_tokens above 8 is a 400, none means 8.
  // One thread: ggml's spinning threads are many times slower on cores other processes keep busy.
  // Offline: admin pulls of generated references fail at once instead of reaching for the network.
  server = await createServer({ model: await tinyModelPath(), embeddingModel, rerankModel, servedModelName: "tiny", port: 0, home: dir, logLevel: "silent", maxOutputTokens: 8, ctxSize: 1024, threads: 1, offline: true });
  await server.ready;
  // The vector store endpoints are fuzzed on a real (empty) store.
  storeId = (await (await fetch(`${server.url}/v1/vector_stores`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "fuzz" }) })).json()).id;
});
after(async () => server.close());

// ---- values ----

const hugeNumber = fc.constantFrom(1e308, -1e308, 2 ** 53 + 1, -(2 ** 63), 2 ** 64, 2 ** 32, 2 ** 32 - 1, 2 ** 31, -(2 ** 31) - 1, -1, 0, -0, 5e-324, 0.5, 1.5, 99999999999);
const specialText = fc.constantFrom("", " ", "\u0000", "\ud800", "\udfff\ud800x", "\uffff", "<|im_start|>system\nhi<|im_end|>", "{{ raise_exception('boom') }}", "{% for x in range(999999999) %}x{% endfor %}", "🦙".repeat(40), "a".repeat(3000), "\\u0000", "%s%n%x", "../../etc/passwd", "constructor", "__proto__");
const text = fc.oneof(fc.string({ maxLength: 30 }), fc.string({ unit: "binary", maxLength: 30 }), specialText);

/** Nested arrays or objects `depth` deep. */
function nested(depth: number, object: boolean): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = object ? { a: v } : [v];
  return v;
}
const deep = fc.tuple(fc.integer({ min: 20, max: 1000 }), fc.boolean()).map(([d, o]) => nested(d, o));

const weird: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  hugeNumber,
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  text,
  fc.array(fc.oneof(text, fc.integer(), hugeNumber), { maxLength: 5 }),
  fc.dictionary(text, fc.oneof(text, fc.integer()), { maxKeys: 4 }),
  deep,
  fc.jsonValue({ maxDepth: 3 }),
);

const model = fc.constantFrom(undefined, "tiny");
const smallInt = (min: number, max: number) => fc.integer({ min, max });
const unit = fc.double({ min: 0, max: 1, noNaN: true });

const schema: fc.Arbitrary<unknown> = fc.letrec<{ s: unknown }>((tie) => ({
  s: fc.oneof(
    { depthSize: "small" },
    fc.record({ type: fc.constantFrom("string", "number", "integer", "boolean", "null", "nope") }),
    fc.record({ enum: fc.array(fc.oneof(text, fc.integer(), fc.constant(null)), { minLength: 1, maxLength: 4 }) }),
    fc.record({ type: fc.constant("array"), items: tie("s"), minItems: smallInt(0, 3), maxItems: smallInt(0, 5) }, { requiredKeys: ["type"] }),
    fc.record({ type: fc.constant("object"), properties: fc.dictionary(fc.string({ maxLength: 6 }), tie("s"), { maxKeys: 3 }), required: fc.array(fc.string({ maxLength: 6 }), { maxLength: 2 }) }, { requiredKeys: ["type"] }),
    fc.record({ anyOf: fc.array(tie("s"), { minLength: 1, maxLength: 3 }) }),
    fc.record({ $ref: fc.constantFrom("#/$defs/x", "#", "#/nope", "http://example.com/s") }),
    fc.record({ type: fc.constant("string"), pattern: fc.constantFrom("^a+$", "("), format: fc.constantFrom("date", "email", "uri") }, { requiredKeys: ["type"] }),
    fc.integer({ min: 50, max: 800 }).map((d) => { let s: unknown = { type: "string" }; for (let i = 0; i < d; i++) s = { type: "object", properties: { a: s } }; return s; }),
    weird,
  ),
})).s;

const regex = fc.oneof(fc.constantFrom("[a-z]+", "(a|b)*c", "\\d{2,3}", "(", "[", "a{99999}", ".*", "(?=a)b", "\\", "a{2,1}", "[^\\x00-\\x7f]+", "(((((((((((a)))))))))))", "x{1000}{1000}"), fc.string({ maxLength: 12 }));
const grammar = fc.oneof(fc.constantFrom('root ::= "a"', "root ::= (", 'root ::= [a-z]+ " " root?', "root ::= root", 'root ::= "\\x"', ""), fc.string({ maxLength: 20 }));

const openAiMessages = fc.array(
  fc.record(
    {
      role: fc.constantFrom("system", "user", "user", "assistant", "developer"),
      content: fc.oneof({ weight: 4, arbitrary: text }, fc.array(fc.record({ type: fc.constant("text"), text }), { minLength: 1, maxLength: 3 })),
    },
  ),
  { minLength: 1, maxLength: 4 },
);

/** Optional fields of chat and completions: a request gets a few of them. */
const samplingExtras = {
  temperature: fc.double({ min: 0, max: 2, noNaN: true }),
  top_p: fc.double({ min: 0.01, max: 1, noNaN: true }),
  top_k: smallInt(-1, 50),
  min_p: unit,
  seed: fc.integer(),
  repetition_penalty: fc.double({ min: 0.1, max: 2, noNaN: true }),
  presence_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
  frequency_penalty: fc.double({ min: -2, max: 2, noNaN: true }),
  stop: fc.oneof(text, fc.array(text, { maxLength: 4 })),
  min_tokens: smallInt(0, 4),
  ignore_eos: fc.boolean(),
  n: smallInt(1, 3),
  stream: fc.boolean(),
  stream_options: fc.record({ include_usage: fc.boolean() }),
  user: text,
  response_format: fc.oneof(fc.record({ type: fc.constantFrom("text", "json_object") }), fc.record({ type: fc.constant("json_schema"), json_schema: fc.record({ name: text, schema, strict: fc.boolean() }, { requiredKeys: [] }) })),
  guided_json: fc.oneof(schema, text),
  guided_choice: fc.array(text, { minLength: 1, maxLength: 4 }),
  guided_regex: regex,
  guided_grammar: grammar,
  logit_bias: fc.dictionary(fc.integer({ min: 0, max: 600 }).map(String), fc.oneof(fc.double({ min: -100, max: 100, noNaN: true }), hugeNumber), { maxKeys: 4 }),
};

const anthropicBlocks = fc.array(fc.record({ type: fc.constant("text"), text }), { minLength: 1, maxLength: 3 });
const anthropicMessages = fc.array(fc.record({ role: fc.constantFrom("user", "assistant"), content: fc.oneof(text, anthropicBlocks) }), { minLength: 1, maxLength: 4 });

interface EndpointFuzz {
  anthropic?: boolean;
  /** Streams in the Responses API's shape (named events ending with response.completed/incomplete/failed, no [DONE]). */
  responses?: boolean;
  /** Fraction of RUNS for this endpoint (endpoints that write to disk get fewer). */
  share?: number;
  /** A plausible request (required fields, usually valid). */
  core: fc.Arbitrary<Record<string, unknown>>;
  /** Optional fields, a few of which are added to a request. */
  extras: Record<string, fc.Arbitrary<unknown>>;
}

/** Generators for each JSON endpoint. */
const ENDPOINTS: Record<string, EndpointFuzz> = {
  "/v1/chat/completions": {
    core: fc.record({ model, messages: openAiMessages, max_tokens: smallInt(1, 8) }, { requiredKeys: ["messages"] }),
    extras: { ...samplingExtras, max_completion_tokens: smallInt(1, 8), logprobs: fc.constant(true), top_logprobs: smallInt(0, 20), tools: weird },
  },
  "/v1/completions": {
    core: fc.record({ model, prompt: fc.oneof(text, fc.array(text, { minLength: 1, maxLength: 4 })), max_tokens: smallInt(1, 8) }, { requiredKeys: ["prompt"] }),
    extras: { ...samplingExtras, logprobs: smallInt(0, 20), echo: fc.boolean(), suffix: text },
  },
  "/v1/messages": {
    anthropic: true,
    core: fc.record({ model, messages: anthropicMessages, max_tokens: smallInt(1, 8) }, { requiredKeys: ["messages", "max_tokens"] }),
    extras: { system: fc.oneof(text, anthropicBlocks), stop_sequences: fc.array(text, { maxLength: 3 }), temperature: unit, top_p: fc.double({ min: 0.01, max: 1, noNaN: true }), top_k: smallInt(1, 40), stream: fc.boolean(), metadata: fc.record({ user_id: text }), tools: weird, thinking: weird },
  },
  "/v1/messages/count_tokens": {
    anthropic: true,
    core: fc.record({ model, messages: anthropicMessages }, { requiredKeys: ["messages"] }),
    extras: { system: fc.oneof(text, anthropicBlocks) },
  },
  "/tokenize": {
    core: fc.oneof(fc.record({ model, prompt: text }, { requiredKeys: ["prompt"] }), fc.record({ content: text }), fc.record({ messages: openAiMessages })),
    extras: { add_special_tokens: fc.boolean(), add_special: fc.boolean() },
  },
  "/detokenize": {
    core: fc.record({ model, tokens: fc.array(smallInt(0, 600), { maxLength: 20 }) }, { requiredKeys: ["tokens"] }),
    extras: {},
  },
  "/v1/embeddings": {
    core: fc.record({ model: fc.constantFrom(undefined, "embed"), input: fc.oneof(text, fc.array(text, { minLength: 1, maxLength: 4 }), fc.array(smallInt(0, 600), { minLength: 1, maxLength: 8 }), fc.array(fc.array(smallInt(0, 600), { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 3 })) }, { requiredKeys: ["input"] }),
    extras: { encoding_format: fc.constantFrom("float", "base64"), dimensions: smallInt(1, 64), input_type: fc.constantFrom("query", "passage"), truncate: fc.constantFrom("NONE", "START", "END"), user: text },
  },
};

const rerankFuzz: EndpointFuzz = {
  core: fc.record({ model: fc.constantFrom(undefined, "rerank", "tiny", "nope"), query: text, documents: fc.array(fc.oneof(text, fc.record({ text })), { minLength: 1, maxLength: 4 }) }, { requiredKeys: ["query", "documents"] }),
  extras: { top_n: smallInt(0, 5), return_documents: fc.boolean(), truncate: fc.constantFrom("NONE", "END", "START") },
};
const adminModelFuzz: EndpointFuzz = { core: fc.constant({}), extras: { keep_alive: text } };
Object.assign(ENDPOINTS, {
  "/v1/ranking": {
    core: fc.record({ model: fc.constantFrom(undefined, "rerank", "tiny"), query: fc.record({ text }), passages: fc.array(fc.record({ text }), { minLength: 1, maxLength: 4 }) }, { requiredKeys: ["query", "passages"] }),
    extras: { truncate: fc.constantFrom("NONE", "END", "START") },
  },
  "/v1/rerank": rerankFuzz,
  "/rerank": rerankFuzz,
  "/v2/rerank": rerankFuzz,
  // `:id` is the embedding model: unloading it only makes the next embeddings request load it again.
  "/v1/admin/models/:id/load": adminModelFuzz,
  "/v1/admin/models/:id/unload": adminModelFuzz,
  "/v1/admin/pull": { core: fc.record({ model: text }), extras: {} },
  // Names always invalid (a space): a created key would turn authentication on for the rest of the run.
  "/v1/admin/keys": { core: fc.record({ name: text.map((s) => `bad name ${s}`) }), extras: { scope: fc.constantFrom("inference", "admin", "root"), limits: fc.oneof(fc.record({ rpm: smallInt(0, 100) }), weird) } },
} satisfies Record<string, EndpointFuzz>);

const attributes = fc.dictionary(text, fc.oneof(text, fc.integer(), fc.boolean(), weird), { maxKeys: 3 });
const chunkingStrategy = fc.oneof(fc.record({ type: fc.constant("auto") }), fc.record({ type: fc.constant("static"), static: fc.record({ max_chunk_size_tokens: smallInt(50, 5000), chunk_overlap_tokens: smallInt(0, 3000) }) }), weird);
const comparison = fc.record({ type: fc.constantFrom("eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "xx"), key: text, value: fc.oneof(text, fc.integer(), fc.boolean(), fc.array(text, { maxLength: 3 })) });
const storeFuzz = (core: fc.Arbitrary<Record<string, unknown>>, extras: Record<string, fc.Arbitrary<unknown>> = {}): EndpointFuzz => ({ core, extras, share: 0.2 });
Object.assign(ENDPOINTS, {
  "/v1/files": { core: fc.record({ purpose: fc.constantFrom("assistants", "batch", "user_data", "nope") }), extras: { file: text }, share: 0.2 },
  "/v1/vector_stores": storeFuzz(fc.record({ name: text, file_ids: fc.array(text, { maxLength: 2 }) }, { requiredKeys: [] }), { metadata: fc.dictionary(text, text, { maxKeys: 3 }), expires_after: fc.record({ anchor: fc.constantFrom("last_active_at", "x"), days: smallInt(-1, 400) }), chunking_strategy: chunkingStrategy }),
  "/v1/vector_stores/:id": storeFuzz(fc.record({ name: text }, { requiredKeys: [] }), { metadata: fc.dictionary(text, text, { maxKeys: 3 }), expires_after: weird }),
  "/v1/vector_stores/:id/files": storeFuzz(fc.record({ file_id: text }), { attributes, chunking_strategy: chunkingStrategy }),
  "/v1/vector_stores/:id/files/:fileId": storeFuzz(fc.record({ attributes })),
  "/v1/vector_stores/:id/file_batches": storeFuzz(fc.record({ file_ids: fc.array(text, { minLength: 1, maxLength: 3 }) }), { attributes, chunking_strategy: chunkingStrategy }),
  "/v1/vector_stores/:id/file_batches/:batchId/cancel": storeFuzz(fc.constant({})),
  "/v1/vector_stores/:id/search": {
    core: fc.record({ query: fc.oneof(text, fc.array(text, { maxLength: 3 })) }),
    extras: { max_num_results: smallInt(0, 60), filters: fc.oneof(comparison, fc.record({ type: fc.constantFrom("and", "or"), filters: fc.array(comparison, { maxLength: 3 }) }), weird), ranking_options: fc.record({ ranker: fc.constantFrom("auto", "none", "x"), score_threshold: fc.oneof(unit, hugeNumber), hybrid_search: fc.record({ embedding_weight: unit, text_weight: unit }) }, { requiredKeys: [] }), rewrite_query: fc.boolean() },
    share: 0.3,
  },
  "/v1/responses": {
    responses: true,
    share: 0.5,
    core: fc.record({ model, input: fc.oneof(text, fc.array(fc.record({ role: fc.constantFrom("user", "assistant", "system", "developer"), content: text }), { minLength: 1, maxLength: 3 })), max_output_tokens: smallInt(1, 8) }, { requiredKeys: ["input"] }),
    extras: { instructions: text, temperature: unit, top_p: fc.double({ min: 0.01, max: 1, noNaN: true }), stream: fc.boolean(), store: fc.boolean(), previous_response_id: text, tools: weird, tool_choice: weird, parallel_tool_calls: fc.boolean(), text: fc.record({ format: fc.oneof(fc.record({ type: fc.constant("json_object") }), fc.record({ type: fc.constant("json_schema"), name: text, schema, strict: fc.boolean() }), weird) }), metadata: fc.dictionary(text, text, { maxKeys: 3 }), user: text, top_logprobs: smallInt(0, 20), include: weird },
  },
  "/v1/responses/:id/cancel": { core: fc.constant({}), extras: {}, share: 0.05 },
  "/v1/guardrail/checks": { core: fc.record({ messages: openAiMessages }), extras: { guardrails: fc.record({ config_id: text }, { requiredKeys: [] }), model } },
  "/v1/moderations": { core: fc.record({ input: fc.oneof(text, fc.array(text, { maxLength: 3 }), weird) }), extras: { model } },
} satisfies Record<string, EndpointFuzz>);

// The setup assistant over HTTP: the tiny model cannot drive it (409 before any conversation), and
// the conversation routes get "embed" as :id (not a conversation: 400/404).
Object.assign(ENDPOINTS, {
  "/v1/admin/assistant/conversations": { core: fc.record({ message: text }), extras: {}, share: 0.1 },
  "/v1/admin/assistant/conversations/:id/messages": { core: fc.record({ message: text }), extras: {}, share: 0.05 },
  "/v1/admin/assistant/conversations/:id/plans/:plan_id/:decision": { core: fc.constant({}), extras: {}, share: 0.05 },
} satisfies Record<string, EndpointFuzz>);

/** A request object: the core, a few extras, and sometimes one or two fields (known or not) set to anything. */
function requestObject(e: EndpointFuzz): fc.Arbitrary<Record<string, unknown>> {
  const extraNames = Object.keys(e.extras);
  const extras = extraNames.length === 0 ? fc.constant([] as [string, unknown][]) : fc.array(fc.oneof(...extraNames.map((k) => e.extras[k]!.map((v): [string, unknown] => [k, v]))), { maxLength: 3 });
  const mutations = fc.array(fc.tuple(fc.oneof(fc.constantFrom(...extraNames, "model", "messages", "prompt", "input", "tokens", "max_tokens", "stream", "n"), fc.string({ maxLength: 8 })), weird), { maxLength: 2 });
  return fc.tuple(e.core, extras, fc.oneof({ weight: 3, arbitrary: fc.constant([] as [string, unknown][]) }, { weight: 2, arbitrary: mutations })).map(([core, extra, mutated]) => {
    const o: Record<string, unknown> = { ...core };
    for (const [k, v] of [...extra, ...mutated]) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
    return o;
  });
}

// ---- bodies as bytes ----

const INVALID_UTF8 = [[0xff], [0xc3], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xe2, 0x82]];
const POLLUTION = ['"__proto__":{"polluted":true}', '"constructor":{"prototype":{"polluted":true}}', '"__proto__":null', '"prototype":{"x":1}'];

interface Sent { body: Buffer; contentType: string }

function bodies(endpoint: string): fc.Arbitrary<Sent> {
  const json = (b: Buffer): Sent => ({ body: b, contentType: "application/json" });
  const structured = requestObject(ENDPOINTS[endpoint]!);
  return fc.oneof(
    { weight: 12, arbitrary: structured.map((o) => json(Buffer.from(JSON.stringify(o)))) },
    // Prototype-pollution keys at the top or inside the first nested object.
    { weight: 2, arbitrary: fc.tuple(structured, fc.constantFrom(...POLLUTION), fc.boolean()).map(([o, key, inner]) => {
      const s = JSON.stringify(o);
      const at = inner ? s.indexOf("{", 1) : 0;
      const i = at > 0 ? at : 0;
      return json(Buffer.from(`${s.slice(0, i + 1)}${key}${s[i + 1] === "}" ? "" : ","}${s.slice(i + 1)}`));
    }) },
    // Invalid UTF-8 inside a string value.
    { weight: 2, arbitrary: fc.tuple(structured, fc.constantFrom(...INVALID_UTF8)).map(([o, bytes]) => {
      const s = Buffer.from(JSON.stringify({ ...o, prompt: "AAA", input: "AAA", messages: [{ role: "user", content: "AAA" }] }));
      const i = s.indexOf("AAA");
      return json(Buffer.concat([s.subarray(0, i), Buffer.from(bytes), s.subarray(i + 3)]));
    }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => json(Buffer.from(JSON.stringify(v) ?? "null"))) },
    { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom("", "{", "}", "[]", "nul", '{"a":', "\u0000", '{"messages": [}')).map((s) => json(Buffer.from(s))) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 200_000 }).map((d) => json(Buffer.from("[".repeat(d) + "]".repeat(d)))) },
    { weight: 1, arbitrary: fc.tuple(structured, fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "", "application/json; charset=latin1", "application/json; charset=utf-8")).map(([o, ct]) => ({ body: Buffer.from(JSON.stringify(o)), contentType: ct })) },
  );
}

// ---- checking what comes back ----

function checkError(json: any, anthropic: boolean, what: string): void {
  if (anthropic) {
    assert.equal(json?.type, "error", what);
    assert.equal(typeof json.error?.message, "string", what);
  } else {
    assert.equal(typeof json?.error?.message, "string", what);
    assert.equal(typeof json.error.type, "string", what);
  }
  assert.notEqual(json.error.type, "server_error", what);
  assert.notEqual(json.error.type, "api_error", what);
}

/** Statuses seen per endpoint (reported as test diagnostics: how much of the fuzz reached generation). */
const seen = new Map<string, Map<string, number>>();

async function send(endpoint: string, { body, contentType }: Sent): Promise<void> {
  const id = endpoint.startsWith("/v1/vector_stores/") ? storeId : "embed";
  const res = await fetch(`${server.url}${endpoint.replace(":id", id)}`, { method: "POST", headers: contentType ? { "content-type": contentType } : {}, body: new Uint8Array(body) });
  const text = await res.text();
  const counts = seen.get(endpoint) ?? new Map<string, number>();
  seen.set(endpoint, counts);
  const key = `${res.status}${res.headers.get("content-type")?.startsWith("text/event-stream") ? " stream" : ""}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
  const what = `${res.status} from ${endpoint} for ${body.subarray(0, 300).toString("latin1")}: ${text.slice(0, 300)}`;
  assert.ok(res.status < 500, what);
  const anthropic = ENDPOINTS[endpoint]!.anthropic ?? false;
  if ((res.headers.get("content-type") ?? "").startsWith("text/event-stream")) {
    assert.equal(res.status, 200, what);
    const frames = text.split("\n\n").filter(Boolean);
    const data = frames.map((f) => /^data: (.*)$/m.exec(f)?.[1]);
    assert.ok(data.every((d) => d !== undefined), what);
    if (ENDPOINTS[endpoint]!.responses) {
      const last = JSON.parse(data.at(-1)!);
      if (last.type === "error") assert.equal(typeof (last.message ?? last.error?.message), "string", what);
      else assert.ok(["response.completed", "response.incomplete", "response.failed"].includes(last.type), what);
    } else if (anthropic) {
      const last = JSON.parse(data.at(-1)!);
      if (last.type === "error") checkError(last, true, what);
      else assert.equal(last.type, "message_stop", what);
    } else {
      assert.equal(data.at(-1), "[DONE]", what);
      for (const d of data.slice(0, -1)) {
        const event = JSON.parse(d!);
        if (event.error) checkError(event, false, what);
      }
    }
    return;
  }
  const json = JSON.parse(text);
  if (res.status >= 400) checkError(json, anthropic, what);
  // A Responses API object always has an `error` field (null unless it failed).
  else assert.ok(json !== null && typeof json === "object" && (json.error === undefined || json.error === null), what);
}

describe("fuzzing every JSON endpoint", () => {
  it("has a generator for each POST route the server registers", () => {
    const posts = [...new Set(server.routes.filter((r) => r.method === "POST").map((r) => r.url))].sort();
    assert.deepEqual(posts, Object.keys(ENDPOINTS).sort());
  });

  for (const endpoint of Object.keys(ENDPOINTS)) {
    it(`${endpoint}: ${RUNS} generated bodies, never a 5xx`, async (t) => {
      const numRuns = Math.max(1, Math.round(RUNS * (ENDPOINTS[endpoint]!.share ?? 1)));
      await fc.assert(fc.asyncProperty(bodies(endpoint), (sent) => send(endpoint, sent)), { numRuns, seed: SEED, endOnFailure: false });
      t.diagnostic(`statuses: ${[...(seen.get(endpoint) ?? [])].sort().map(([k, n]) => `${k}: ${n}`).join(", ")}`);
    });
  }

  it("keeps the bugs it found fixed", async () => {
    // min_tokens with a grammar: once the grammar was complete the sampler had nothing left to accept (500).
    const found = [{ prompt: " ", temperature: 0, min_tokens: 4, guided_choice: ["\uffff"] }];
    for (const body of found) await send("/v1/completions", { body: Buffer.from(JSON.stringify(body)), contentType: "application/json" });
  });

  it("leaves the server healthy", async () => {
    assert.equal((await fetch(`${server.url}/v1/health/ready`)).status, 200);
    const res = await fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], max_tokens: 2 }) });
    assert.equal(res.status, 200);
    const metrics = await (await fetch(`${server.url}/v1/metrics`)).text();
    assert.ok(!/request_failure_total\{[^}]*\} [1-9]/.test(metrics), "no generation failed");
  });
});
