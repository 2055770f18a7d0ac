/**
 * Structured-output parity: the schemas zod produces (zodResponseFormat / zodTextFormat) with
 * integer bounds, uuid/email/uri/date formats, patterns, allOf and lengths are enforced by the
 * grammar; what no grammar enforces is a 400 when strict, checked after generation otherwise.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import fc from "fast-check";
import OpenAI from "openai";
import { zodResponseFormat, zodTextFormat } from "openai/helpers/zod";
import { z } from "zod";
import { integerRangeGbnf } from "../src/engine/schema-gbnf.js";
import { NO_STRAY_BYTES, postJson, useTinyServer } from "./helpers.js";

const tiny = useTinyServer({ threads: 1 });
let client: OpenAI;

/** The GBNF of an integer range uses only literals, classes, counts and groups: it reads as a JS regex. */
function asRegex(gbnf: string): RegExp {
  return new RegExp(`^(?:${gbnf.replace(/"([^"]*)"/g, "$1").replace(/ /g, "")})$`);
}

const Everyday = z.object({
  count: z.number().int().min(0).max(120),
  id: z.string().uuid(),
  email: z.string().email(),
  site: z.string().url(),
  day: z.string().date(),
  code: z.string().regex(/^[A-Z]{3}-\d{2}$/),
  tags: z.array(z.string().min(1).max(5)).min(1).max(3),
  both: z.object({ a: z.number().int().positive() }).and(z.object({ b: z.boolean() })),
});

describe("structured-output parity", () => {
  before(() => {
    client = new OpenAI({ baseURL: `${tiny.url}/v1`, apiKey: "unused", maxRetries: 0 });
  });

  it("integer ranges accept exactly the integers between their bounds", () => {
    fc.assert(
      fc.property(fc.integer({ min: -5000, max: 5000 }), fc.integer({ min: 0, max: 3000 }), fc.integer({ min: -9000, max: 9000 }), (lo, width, n) => {
        const hi = lo + width;
        const re = asRegex(integerRangeGbnf(BigInt(lo), BigInt(hi)));
        assert.equal(re.test(String(n)), n >= lo && n <= hi, `${n} in [${lo}, ${hi}]`);
        assert.ok(re.test(String(lo)) && re.test(String(hi)));
      }),
      { numRuns: 300 },
    );
    const atLeast = asRegex(integerRangeGbnf(17n, undefined));
    for (const n of [17, 18, 99, 100, 123456]) assert.ok(atLeast.test(String(n)), String(n));
    for (const n of ["16", "0", "-5", "017"]) assert.ok(!atLeast.test(n), n);
    const atMost = asRegex(integerRangeGbnf(undefined, -3n));
    for (const n of [-3, -4, -100000]) assert.ok(atMost.test(String(n)));
    for (const n of ["-2", "0", "5", "-03"]) assert.ok(!atMost.test(n), n);
  });

  it("enforces zodResponseFormat's everyday schema (int bounds, uuid, email, uri, date, pattern, lengths, allOf)", async () => {
    for (const seed of [1, 2, 3]) {
      const res = await client.beta.chat.completions.parse({
        model: "tiny",
        messages: [{ role: "user", content: "Fill the form" }],
        response_format: zodResponseFormat(Everyday, "form"),
        temperature: 1,
        seed,
        max_tokens: 600,
        logit_bias: NO_STRAY_BYTES,
      } as any);
      const parsed = res.choices[0]!.message.parsed;
      assert.ok(parsed, `seed ${seed}: ${res.choices[0]!.message.content}`);
      // zod's own checks (the SDK only parses JSON).
      Everyday.parse(parsed);
    }
  });

  it("parses text.format from zodTextFormat on the Responses API", async () => {
    const Score = z.object({ score: z.number().int().min(-3).max(12), grade: z.enum(["a", "b"]) });
    const res = await client.responses.parse({ model: "tiny", input: "Rate it", text: { format: zodTextFormat(Score, "score") }, temperature: 1, max_output_tokens: 80 });
    Score.parse(res.output_parsed);
  });

  it("refuses keywords no grammar enforces when strict, naming them", async () => {
    await assert.rejects(
      client.responses.create({ model: "tiny", input: "x", text: { format: zodTextFormat(z.object({ p: z.number().min(0) }), "p") } }),
      (err: any) => err instanceof OpenAI.BadRequestError && err.param === "text.format.schema.properties.p.minimum" && /numeric bounds/.test(err.message),
    );
  });

  it("checks what the grammar did not enforce after generation when not strict, and says so", async () => {
    const schema = { type: "object", properties: { p: { type: "number", minimum: 0, maximum: 1 }, xs: { type: "array", items: { type: "integer", minimum: 0, maximum: 3 }, uniqueItems: true, maxItems: 3 } }, required: ["p", "xs"], additionalProperties: false };
    for (const seed of [1, 2]) {
      const { status, json } = await postJson(`${tiny.url}/v1/chat/completions`, { messages: [{ role: "user", content: "x" }], seed, temperature: 1, max_tokens: 80, response_format: { type: "json_schema", json_schema: { name: "n", strict: false, schema } } });
      assert.equal(status, 200, JSON.stringify(json));
      const report = json.structured_output;
      assert.deepEqual(report.unenforced, ["response_format.json_schema.schema.properties.p.minimum", "response_format.json_schema.schema.properties.p.maximum", "response_format.json_schema.schema.properties.xs.uniqueItems"]);
      const value = JSON.parse(json.choices[0].message.content);
      const valid = value.p >= 0 && value.p <= 1 && new Set(value.xs).size === value.xs.length;
      assert.equal(report.valid, valid, JSON.stringify({ value, report }));
      if (!valid) assert.ok(report.errors.length > 0);
    }
    // A schema the grammar enforces whole gets no report.
    const { json } = await postJson(`${tiny.url}/v1/chat/completions`, { messages: [{ role: "user", content: "x" }], max_tokens: 40, response_format: { type: "json_schema", json_schema: { name: "n", schema: { type: "object", properties: { n: { type: "integer", minimum: 1, maximum: 3 } }, required: ["n"] } } } });
    assert.ok([1, 2, 3].includes(JSON.parse(json.choices[0].message.content).n));
    assert.equal(json.structured_output, undefined);
  });
});
