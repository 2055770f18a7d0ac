/**
 * Structured output on the random-weight tiny model: whatever the weights, grammar-constrained
 * sampling yields output that parses and matches the schema, choice or grammar. Bad constraints are 400s.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import { z } from "zod";
import { NO_STRAY_BYTES, postJson, postSse, useTinyServer } from "./helpers.js";

const tiny = useTinyServer();

const messages = [{ role: "user", content: "Describe a person as JSON." }];
const Person = z.object({
  name: z.string().max(12),
  age: z.number().int(),
  member: z.boolean(),
  color: z.enum(["red", "green", "blue"]),
  tags: z.array(z.string().max(5)).max(3),
  address: z.object({ city: z.string().max(8), zip: z.number() }),
  nickname: z.string().max(6).nullable(),
});

describe("structured output", () => {
  it("json_schema: every sample parses and validates against the schema", async () => {
    const schema = zodResponseFormat(Person, "person").json_schema.schema;
    for (const seed of [1, 2, 3]) {
      const { status, json } = await postJson(`${tiny.url}/v1/chat/completions`, {
        messages, temperature: 1, seed, max_tokens: 400, logit_bias: NO_STRAY_BYTES,
        response_format: { type: "json_schema", json_schema: { name: "person", schema, strict: true } },
      });
      assert.equal(status, 200, JSON.stringify(json));
      assert.equal(json.choices[0].finish_reason, "stop");
      const parsed = Person.safeParse(JSON.parse(json.choices[0].message.content));
      assert.ok(parsed.success, `seed ${seed}: ${json.choices[0].message.content} ${parsed.error?.message}`);
    }
  });

  it("json_schema: the structure holds even when the model emits invalid UTF-8 inside strings", async () => {
    const schema = zodResponseFormat(Person, "person").json_schema.schema;
    const { json } = await postJson(`${tiny.url}/v1/chat/completions`, { messages, temperature: 1, seed: 1, max_tokens: 400, guided_json: schema });
    const value = JSON.parse(json.choices[0].message.content);
    assert.deepEqual(Object.keys(value), ["name", "age", "member", "color", "tags", "address", "nickname"]);
    assert.ok(Number.isInteger(value.age));
    assert.equal(typeof value.address.zip, "number");
  });

  it("works with the openai client's chat.completions.parse and a zod schema", async () => {
    const client = new OpenAI({ baseURL: `${tiny.url}/v1`, apiKey: "unused", maxRetries: 0 });
    const res = await client.beta.chat.completions.parse({
      model: "tiny",
      messages: [{ role: "user", content: "Who?" }],
      response_format: zodResponseFormat(Person, "person"),
      max_tokens: 400,
      temperature: 1,
      seed: 9,
      logit_bias: NO_STRAY_BYTES,
    });
    const person = res.choices[0]!.message.parsed!;
    assert.equal(typeof person.name, "string");
    assert.ok(["red", "green", "blue"].includes(person.color));
  });

  it("json_object, guided_json (as text), streaming and n=2 all parse", async () => {
    const obj = await postJson(`${tiny.url}/v1/chat/completions`, { messages, temperature: 1, seed: 4, max_tokens: 400, response_format: { type: "json_object" } });
    assert.equal(typeof JSON.parse(obj.json.choices[0].message.content), "object");
    const guided = await postJson(`${tiny.url}/v1/completions`, { prompt: "JSON:", temperature: 1, seed: 3, max_tokens: 300, guided_json: JSON.stringify({ type: "object", properties: { ok: { type: "boolean" }, n: { type: "integer" } }, required: ["ok", "n"] }) });
    const value = JSON.parse(guided.json.choices[0].text);
    assert.equal(typeof value.ok, "boolean");
    assert.ok(Number.isInteger(value.n));
    const schema = { type: "object", properties: { color: { enum: ["red", "green"] }, n: { type: "number" } }, required: ["color", "n"] };
    const events = await postSse(`${tiny.url}/v1/chat/completions`, { messages, temperature: 1, seed: 8, max_tokens: 200, guided_json: schema });
    const text = events.filter((e) => e !== "[DONE]" && e.choices[0]).map((e) => e.choices[0].delta.content ?? "").join("");
    assert.ok(["red", "green"].includes(JSON.parse(text).color));
    const two = await postJson(`${tiny.url}/v1/chat/completions`, { messages, temperature: 1, seed: 8, max_tokens: 200, n: 2, guided_json: schema });
    for (const c of two.json.choices) assert.ok(Number.isFinite(JSON.parse(c.message.content).n));
  });

  it("guided_choice picks one of the choices; guided_grammar follows the GBNF", async () => {
    const choices = ["yes", "no", 'maybe "so"', "naïve\nline"];
    const seen = new Set<string>();
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const { json } = await postJson(`${tiny.url}/v1/chat/completions`, { messages, temperature: 1, seed, guided_choice: choices });
      assert.ok(choices.includes(json.choices[0].message.content), json.choices[0].message.content);
      seen.add(json.choices[0].message.content);
    }
    assert.ok(seen.size > 1, "sampling varies among the choices");
    for (const seed of [1, 2, 3]) {
      const { json } = await postJson(`${tiny.url}/v1/completions`, { prompt: "code:", temperature: 1, seed, guided_grammar: 'root ::= "A" [0-9]{2,3} ("-" [a-z]+)? "Z"' });
      assert.match(json.choices[0].text, /^A[0-9]{2,3}(-[a-z]+)?Z$/);
    }
  });

  it("rejects constraints it cannot enforce with a 400 naming the field", async () => {
    const cases: [object, string, RegExp][] = [
      [{ guided_grammar: "root ::= missing-rule" }, "guided_grammar", /cannot be compiled/],
      [{ response_format: { type: "json_schema", json_schema: { name: "x", strict: true, schema: { type: "object", properties: { n: { type: "number", minimum: 0 } } } } } }, "response_format.json_schema.schema.properties.n.minimum", /numeric bounds/],
      [{ guided_json: { type: "strnig" } }, "guided_json.type", /type must be one of/],
      [{ response_format: { type: "json_schema", json_schema: { name: "x", strict: true, schema: { type: "array", items: { type: "string" }, uniqueItems: true } } } }, "response_format.json_schema.schema.uniqueItems", /unique items/],
      [{ guided_json: { $ref: "#/$defs/missing" } }, "guided_json.$ref", /definition/],
      [{ guided_json: "{not json" }, "guided_json", /not a JSON schema/],
      [{ response_format: { type: "json_schema", json_schema: { name: "x" } } }, "response_format.json_schema.schema", /Required/],
      [{ response_format: { type: "xml" } }, "response_format.type", /./],
      [{ guided_choice: [] }, "guided_choice", /./],
      [{ guided_choice: ["a"], guided_grammar: 'root ::= "a"' }, "guided_grammar", /only one output constraint/],
    ];
    for (const [extra, param, message] of cases) {
      const res = await postJson(`${tiny.url}/v1/chat/completions`, { messages, ...extra });
      assert.equal(res.status, 400, `${JSON.stringify(extra)}: ${JSON.stringify(res.json)}`);
      assert.equal(res.json.error.param, param, JSON.stringify(res.json));
      assert.match(res.json.error.message, message);
    }
  });
});
