/**
 * convertJsonSchema without a server: the exact schema handed to the grammar builder (dialect
 * conversion, allOf merging, what is kept and what is dropped), every refusal with its path and
 * message, and the `unenforced` list of keywords left for checking after generation.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { convertJsonSchema } from "../src/api/openai/json-schema.js";
import { ApiError } from "../src/api/errors.js";

const ANY = ["string", "number", "boolean", "null", "object", "array"];

/** The conversion fails with a 400 naming `path` and saying `message`. */
function rejects(schema: unknown, path: string, message: string, param = "s"): void {
  assert.throws(() => convertJsonSchema(schema, param), (err: unknown) => {
    assert.ok(err instanceof ApiError, String(err));
    assert.equal(err.status, 400);
    assert.equal(err.type, "invalid_request_error");
    assert.equal(err.code, "invalid_schema");
    assert.equal(err.param, path);
    assert.equal(err.message, `Invalid JSON schema at '${path}': ${message}`);
    return true;
  }, JSON.stringify(schema));
}

/** Converts collecting unenforced keywords; returns both. */
function lenient(schema: unknown): { out: unknown; unenforced: string[] } {
  const unenforced: string[] = [];
  return { out: convertJsonSchema(schema, "s", unenforced), unenforced };
}

describe("convertJsonSchema: what it produces", () => {
  it("keeps types, structure and lengths, drops annotations but a string description", () => {
    const schema = {
      $schema: "https://json-schema.org/draft/2020-12/schema", $id: "x", $comment: "c", title: "T", description: "D", default: {}, examples: [], deprecated: false, readOnly: false, writeOnly: false, strict: true, name: "n",
      type: "object",
      properties: {
        a: { type: "string", minLength: 1, maxLength: 5, description: 7 },
        b: { type: ["integer", "null"] },
        c: { type: "array", items: { type: "boolean" }, minItems: 0, maxItems: 3 },
        d: { type: "array", prefixItems: [{ type: "number" }, { const: "x" }] },
        e: { enum: ["x", 1, true, null] },
        f: { const: null },
      },
      required: ["a"],
      additionalProperties: false,
      minProperties: 1,
      maxProperties: 6,
    };
    assert.deepEqual(convertJsonSchema(schema, "s"), {
      description: "D",
      type: "object",
      properties: {
        a: { type: "string", minLength: 1, maxLength: 5 },
        b: { type: ["integer", "null"] },
        c: { type: "array", items: { type: "boolean" }, minItems: 0, maxItems: 3 },
        d: { type: "array", prefixItems: [{ type: "number" }, { const: "x" }] },
        e: { enum: ["x", 1, true, null] },
        f: { const: null },
      },
      required: ["a"],
      additionalProperties: false,
      minProperties: 1,
      maxProperties: 6,
    });
  });

  it("writes anyOf as oneOf, definitions as $defs, references as #/$defs", () => {
    assert.deepEqual(convertJsonSchema({ anyOf: [{ type: "string" }, { $ref: "#/definitions/n" }], definitions: { n: { type: "number" } } }, "s"), {
      oneOf: [{ type: "string" }, { $ref: "#/$defs/n" }],
      $defs: { n: { type: "number" } },
    });
    assert.deepEqual(convertJsonSchema({ oneOf: [{ $ref: "#/$defs/a" }, true], $defs: { a: { type: "null" } }, definitions: { b: false } }, "s"), {
      oneOf: [{ $ref: "#/$defs/a" }, true],
      $defs: { a: { type: "null" }, b: false },
    });
    assert.deepEqual(convertJsonSchema({ type: "object", additionalProperties: { type: "integer", minimum: 1 } }, "s"), { type: "object", additionalProperties: { type: "integer", minimum: 1 } });
    assert.deepEqual(convertJsonSchema({ type: "object", additionalProperties: true }, "s"), { type: "object", additionalProperties: true });
  });

  it("keeps enums and consts of every scalar type, and references to longer names", () => {
    for (const value of ["s", 1.5, true, false, null]) assert.deepEqual(convertJsonSchema({ const: value }, "s"), { const: value });
    assert.deepEqual(convertJsonSchema({ enum: [false, 0, "", null] }, "s"), { enum: [false, 0, "", null] });
    assert.deepEqual(convertJsonSchema({ $ref: "#/$defs/address_line", $defs: { address_line: { type: "string" } } }, "s"), { $ref: "#/$defs/address_line", $defs: { address_line: { type: "string" } } });
  });

  it("keeps integer bounds on integer-only schemas", () => {
    assert.deepEqual(convertJsonSchema({ type: "integer", minimum: -3, maximum: 9, exclusiveMinimum: -4, exclusiveMaximum: 10 }, "s"), { type: "integer", minimum: -3, maximum: 9, exclusiveMinimum: -4, exclusiveMaximum: 10 });
    assert.deepEqual(convertJsonSchema({ type: ["integer"], minimum: 0 }, "s"), { type: ["integer"], minimum: 0 });
  });

  it("keeps patterns on strings and the formats a grammar enforces", () => {
    assert.deepEqual(convertJsonSchema({ type: "string", pattern: "^a+$" }, "s"), { type: "string", pattern: "^a+$" });
    for (const format of ["date-time", "time", "date", "uuid", "email", "uri"]) {
      assert.deepEqual(convertJsonSchema({ type: "string", format }, "s"), { type: "string", format });
    }
    assert.deepEqual(convertJsonSchema({ type: "string", format: "date", minLength: 2, maxLength: 30 }, "s"), { type: "string", format: "date", minLength: 2, maxLength: 30 });
  });

  it("turns an empty schema into any JSON value", () => {
    assert.deepEqual(convertJsonSchema({}, "s"), { type: ANY });
    assert.deepEqual(convertJsonSchema({ description: "d", title: "t" }, "s"), { description: "d", type: ANY });
    assert.deepEqual(convertJsonSchema({ $defs: { a: { type: "string" } } }, "s"), { $defs: { a: { type: "string" } }, type: ANY });
    assert.deepEqual(convertJsonSchema({ type: "object", properties: { x: {} } }, "s"), { type: "object", properties: { x: { type: ANY } } });
    assert.equal(convertJsonSchema(true as never, "s"), true);
    assert.equal(convertJsonSchema(false as never, "s"), false);
  });

  it("merges allOf: properties and required joined, later keywords win, shared properties merged", () => {
    assert.deepEqual(convertJsonSchema({
      type: "object",
      properties: { a: { type: "string" } },
      required: ["a"],
      allOf: [
        { properties: { b: { type: "number" }, a: { minLength: 2 } }, required: ["b", "a"], maxProperties: 5 },
        { allOf: [{ properties: { c: { type: "null" } }, required: ["c"] }], maxProperties: 3 },
      ],
    }, "s"), {
      type: "object",
      properties: { a: { type: "string", minLength: 2 }, b: { type: "number" }, c: { type: "null" } },
      required: ["a", "b", "c"],
      maxProperties: 3,
    });
    assert.deepEqual(convertJsonSchema({ allOf: [{ type: "string" }] }, "s"), { type: "string" });
    assert.deepEqual(convertJsonSchema({ allOf: [{ type: "string" }, { maxLength: 4 }] }, "s"), { type: "string", maxLength: 4 });
  });
});

describe("convertJsonSchema: refusals", () => {
  it("refuses what is not a schema", () => {
    rejects(null, "s", "a schema must be an object");
    rejects([], "s", "a schema must be an object");
    rejects("x", "s", "a schema must be an object");
    rejects({ type: "object", properties: { a: 3 } }, "s.properties.a", "a schema must be an object");
    rejects({ items: [] , type: "array"}, "s.items", "a schema must be an object");
    rejects({ minLength: 1 }, "s", "a schema needs a type, enum, const, oneOf/anyOf or $ref");
    rejects({ $defs: {}, items: { type: "string" } }, "s", "a schema needs a type, enum, const, oneOf/anyOf or $ref");
    rejects({ type: "string", wat: 1 }, "s.wat", 'unknown keyword "wat"');
  }, );

  it("checks each keyword's value", () => {
    rejects({ type: "float" }, "s.type", "type must be one of string, number, integer, boolean, null, object, array");
    rejects({ type: [] }, "s.type", "type must be one of string, number, integer, boolean, null, object, array");
    rejects({ type: ["string", 3] }, "s.type", "type must be one of string, number, integer, boolean, null, object, array");
    for (const bad of [[], "x", [{}], [[1]], ["a", {}]]) rejects({ enum: bad }, "s.enum", "enum must be a non-empty array of strings, numbers, booleans or null");
    for (const bad of [{}, [1], undefined]) rejects({ const: bad }, "s.const", "const must be a string, number, boolean or null");
    for (const key of ["oneOf", "anyOf"]) {
      rejects({ [key]: [] }, `s.${key}`, `${key} must be a non-empty array of schemas`);
      rejects({ [key]: {} }, `s.${key}`, `${key} must be a non-empty array of schemas`);
      rejects({ [key]: [{ type: "string" }, 4] }, `s.${key}.1`, "a schema must be an object");
    }
    for (const bad of [null, [], "x"]) rejects({ type: "object", properties: bad }, "s.properties", "properties must be an object of schemas");
    for (const bad of ["a", [1], {}, ["a", 1]]) rejects({ type: "object", required: bad }, "s.required", "required must be an array of property names");
    rejects({ type: "array", prefixItems: {} }, "s.prefixItems", "prefixItems must be an array of schemas");
    rejects({ type: "array", prefixItems: [{ type: "string" }, 1] }, "s.prefixItems.1", "a schema must be an object");
    rejects({ type: "object", additionalProperties: 1 }, "s.additionalProperties", "a schema must be an object");
    for (const key of ["minProperties", "maxProperties", "minItems", "maxItems", "minLength", "maxLength"]) {
      for (const bad of [-1, 1.5, "2", null]) rejects({ type: "string", [key]: bad }, `s.${key}`, `${key} must be a non-negative integer`);
    }
    rejects({ type: "string", format: 5 }, "s.format", "format must be a string");
    rejects({ type: "integer", minimum: "1" }, "s.minimum", "minimum must be a number");
    rejects({ type: "integer", exclusiveMaximum: null }, "s.exclusiveMaximum", "exclusiveMaximum must be a number");
  });

  it("checks references and definitions", () => {
    const msg = (v: unknown) => `$ref must point to a definition in this schema (#/$defs/name), got ${JSON.stringify(v)}`;
    rejects({ $ref: "#/$defs/missing", $defs: { other: { type: "string" } } }, "s.$ref", msg("#/$defs/missing"));
    rejects({ $ref: "http://example.com/s.json" }, "s.$ref", msg("http://example.com/s.json"));
    rejects({ $ref: "#/components/a", $defs: { a: { type: "string" } } }, "s.$ref", msg("#/components/a"));
    rejects({ $ref: 3 }, "s.$ref", msg(3));
    rejects({ $ref: ["#/$defs/a"], $defs: { a: { type: "string" } } }, "s.$ref", msg(["#/$defs/a"]));
    rejects({ $ref: "#/$defs/a\nb", $defs: { a: { type: "string" } } }, "s.$ref", msg("#/$defs/a\nb"));
    rejects({ $ref: "x#/$defs/a", $defs: { a: { type: "string" } } }, "s.$ref", msg("x#/$defs/a"));
    rejects({ type: "object", properties: { a: { $ref: "#/$defs/a" } }, definitions: { b: { type: "string" } } }, "s.properties.a.$ref", msg("#/$defs/a"));
    for (const key of ["$defs", "definitions"]) {
      for (const bad of [[], "x"]) rejects({ type: "string", [key]: bad }, `s.${key}`, `${key} must be an object of schemas`);
    }
    rejects({ type: "string", $defs: null }, "s.$defs", "$defs must be an object of schemas");
    rejects({ type: "string", $defs: { a: 1 } }, "s.$defs.a", "a schema must be an object");
  });

  it("refuses allOf members it cannot merge", () => {
    rejects({ allOf: [] }, "s.allOf", "allOf must be a non-empty array of schemas");
    rejects({ allOf: {} }, "s.allOf", "allOf must be a non-empty array of schemas");
    rejects({ allOf: [{ type: "string" }, 1] }, "s.allOf.1", "a schema must be an object");
    rejects({ allOf: [[]] }, "s.allOf.0", "a schema must be an object");
    rejects({ allOf: [null] }, "s.allOf.0", "a schema must be an object");
    rejects({ allOf: [{ $ref: "#/$defs/a" }], $defs: { a: { type: "string" } } }, "s.allOf.0.$ref", "allOf members must be written out, not referenced");
    rejects({ allOf: [{ allOf: [] }] }, "s.allOf.0.allOf", "allOf must be a non-empty array of schemas");
    rejects({ allOf: [{ properties: { a: { type: "string" } } }, { properties: { a: 1 } }] }, "s.allOf.1.properties.a.allOf.1", "a schema must be an object");
  });

  it("refuses what no grammar can enforce, naming the keyword", () => {
    const cannot = (what: string, key: string) => `${what} cannot be enforced by a grammar; remove "${key}" (or, in response_format / text.format, set strict: false to have it checked after generation)`;
    rejects({ type: "number", minimum: 0 }, "s.minimum", cannot("numeric bounds on non-integers", "minimum"));
    rejects({ type: "number", maximum: 0 }, "s.maximum", cannot("numeric bounds on non-integers", "maximum"));
    rejects({ type: ["integer", "null"], exclusiveMinimum: 0 }, "s.exclusiveMinimum", cannot("numeric bounds on non-integers", "exclusiveMinimum"));
    rejects({ type: ["integer", "string"], exclusiveMaximum: 0 }, "s.exclusiveMaximum", cannot("numeric bounds on non-integers", "exclusiveMaximum"));
    rejects({ type: ["number"], minimum: 0 }, "s.minimum", cannot("numeric bounds on non-integers", "minimum"));
    rejects({ minimum: 0, enum: [1] }, "s.minimum", cannot("numeric bounds on non-integers", "minimum"));
    rejects({ type: "integer", multipleOf: 2 }, "s.multipleOf", cannot("numeric multiples", "multipleOf"));
    rejects({ type: "object", patternProperties: {} }, "s.patternProperties", cannot("pattern properties", "patternProperties"));
    rejects({ type: "string", not: {} }, "s.not", cannot("not", "not"));
    for (const key of ["if", "then", "else"]) rejects({ type: "string", [key]: {} }, `s.${key}`, cannot("conditional schemas", key));
    for (const key of ["dependentRequired", "dependentSchemas"]) rejects({ type: "object", [key]: {} }, `s.${key}`, cannot("dependencies", key));
    rejects({ type: "array", uniqueItems: true }, "s.uniqueItems", cannot("unique items", "uniqueItems"));
    rejects({ type: "array", contains: {} }, "s.contains", cannot("contains", "contains"));
    rejects({ type: "object", properties: { n: { type: "number", maximum: 1 } } }, "s.properties.n.maximum", cannot("numeric bounds on non-integers", "maximum"));
  });

  it("refuses patterns off strings, unknown formats, and lengths next to a pattern or a format rule", () => {
    rejects({ type: "number", pattern: "a" }, "s.pattern", 'pattern is enforced on strings only (type: "string")');
    rejects({ type: ["string"], pattern: "a" }, "s.pattern", 'pattern is enforced on strings only (type: "string")');
    rejects({ type: "string", pattern: 3 }, "s.pattern", 'pattern is enforced on strings only (type: "string")');
    rejects({ type: "string", format: "ipv4" }, "s.format", 'format "ipv4" cannot be enforced; supported: date-time, time, date, uuid, email, uri');
    rejects({ type: "string", pattern: "a+", minLength: 1 }, "s.minLength", "minLength cannot be enforced together with pattern; remove one");
    rejects({ type: "string", pattern: "a+", maxLength: 1 }, "s.maxLength", "maxLength cannot be enforced together with pattern; remove one");
    rejects({ type: "string", format: "email", maxLength: 9 }, "s.maxLength", "maxLength cannot be enforced together with format; remove one");
    rejects({ type: "string", format: "uuid", pattern: "a", minLength: 9 }, "s.minLength", "minLength cannot be enforced together with pattern; remove one");
  });

  it("names the request parameter in the path", () => {
    rejects({ type: "float" }, "response_format.json_schema.schema.type", "type must be one of string, number, integer, boolean, null, object, array", "response_format.json_schema.schema");
  });
});

describe("convertJsonSchema: collecting what is not enforced", () => {
  it("leaves such keywords out and lists their paths", () => {
    assert.deepEqual(lenient({
      type: "object",
      properties: {
        n: { type: "number", minimum: 0, maximum: 1, multipleOf: 0.5 },
        s: { type: "string", pattern: "^a+$", minLength: 1, maxLength: 3 },
        f: { type: "string", format: "ipv4" },
        u: { type: "string", format: "uuid", maxLength: 36 },
        p: { type: "integer", pattern: "1" },
        a: { type: "array", uniqueItems: true, contains: { type: "string" } },
      },
      not: { type: "null" },
    }), {
      out: {
        type: "object",
        properties: {
          n: { type: "number" },
          s: { type: "string", pattern: "^a+$" },
          f: { type: "string" },
          u: { type: "string", format: "uuid" },
          p: { type: "integer" },
          a: { type: "array" },
        },
      },
      unenforced: ["s.properties.n.minimum", "s.properties.n.maximum", "s.properties.n.multipleOf", "s.properties.s.minLength", "s.properties.s.maxLength", "s.properties.f.format", "s.properties.u.maxLength", "s.properties.p.pattern", "s.properties.a.uniqueItems", "s.properties.a.contains", "s.not"],
    });
  });

  it("still refuses what is malformed", () => {
    assert.throws(() => lenient({ type: "string", minLength: -1 }), /minLength must be a non-negative integer/);
    assert.throws(() => lenient({ type: "string", wat: 1 }), /unknown keyword "wat"/);
    assert.deepEqual(lenient({ type: "integer", minimum: 2 }), { out: { type: "integer", minimum: 2 }, unenforced: [] });
  });
});
