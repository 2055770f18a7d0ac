/**
 * Checks a JSON Schema against what a grammar can enforce, and converts it to the dialect
 * node-llama-cpp compiles (anyOf → oneOf, definitions → $defs). What a grammar cannot express
 * (numeric bounds, regex patterns, allOf/not/if) is rejected with the path of the offending keyword.
 */
import { ApiError } from "./errors.js";

const TYPES = new Set(["string", "number", "integer", "boolean", "null", "object", "array"]);
const ANNOTATIONS = new Set(["title", "description", "$schema", "$id", "$comment", "default", "examples", "deprecated", "readOnly", "writeOnly", "strict", "name"]);
const FORMATS = new Set(["date-time", "time", "date"]);
const UNSUPPORTED: Record<string, string> = {
  pattern: "regular-expression patterns",
  patternProperties: "pattern properties",
  minimum: "numeric bounds",
  maximum: "numeric bounds",
  exclusiveMinimum: "numeric bounds",
  exclusiveMaximum: "numeric bounds",
  multipleOf: "numeric multiples",
  allOf: "allOf",
  not: "not",
  if: "conditional schemas",
  then: "conditional schemas",
  else: "conditional schemas",
  dependentRequired: "dependencies",
  dependentSchemas: "dependencies",
  uniqueItems: "unique items",
  contains: "contains",
};
const KNOWN = new Set(["type", "enum", "const", "oneOf", "anyOf", "properties", "required", "additionalProperties", "minProperties", "maxProperties", "items", "prefixItems", "minItems", "maxItems", "minLength", "maxLength", "format", "$ref", "$defs", "definitions"]);

type Json = Record<string, unknown>;

export function convertJsonSchema(schema: unknown, param: string): Json {
  const defs = new Set<string>();
  const collect = (s: unknown) => {
    if (s && typeof s === "object" && !Array.isArray(s)) {
      for (const key of ["$defs", "definitions"]) {
        const d = (s as Json)[key];
        if (d && typeof d === "object") for (const name of Object.keys(d)) defs.add(name);
      }
    }
  };
  collect(schema);
  return convert(schema, param, defs) as Json;
}

function fail(path: string, message: string): never {
  throw ApiError.invalid(`Invalid JSON schema at '${path}': ${message}`, path, "invalid_schema");
}

function isInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

function convert(schema: unknown, path: string, defs: Set<string>): Json | boolean {
  if (schema === true || schema === false) return schema;
  if (!schema || typeof schema !== "object" || Array.isArray(schema)) fail(path, "a schema must be an object");
  const s = schema as Json;
  const out: Json = {};
  for (const [key, value] of Object.entries(s)) {
    const at = `${path}.${key}`;
    if (ANNOTATIONS.has(key)) {
      if (key === "description" && typeof value === "string") out.description = value;
      continue;
    }
    if (key in UNSUPPORTED) fail(at, `${UNSUPPORTED[key]} cannot be enforced by a grammar; remove "${key}"`);
    if (!KNOWN.has(key)) fail(at, `unknown keyword "${key}"`);
    switch (key) {
      case "type": {
        const types = Array.isArray(value) ? value : [value];
        if (types.length === 0 || !types.every((t) => typeof t === "string" && TYPES.has(t))) fail(at, `type must be one of ${[...TYPES].join(", ")}`);
        out.type = value;
        break;
      }
      case "enum":
        if (!Array.isArray(value) || value.length === 0 || !value.every((v) => v === null || ["string", "number", "boolean"].includes(typeof v))) fail(at, "enum must be a non-empty array of strings, numbers, booleans or null");
        out.enum = value;
        break;
      case "const":
        if (!(value === null || ["string", "number", "boolean"].includes(typeof value))) fail(at, "const must be a string, number, boolean or null");
        out.const = value;
        break;
      case "oneOf":
      case "anyOf":
        if (!Array.isArray(value) || value.length === 0) fail(at, `${key} must be a non-empty array of schemas`);
        out.oneOf = value.map((v, i) => convert(v, `${at}.${i}`, defs));
        break;
      case "properties":
        if (!value || typeof value !== "object" || Array.isArray(value)) fail(at, "properties must be an object of schemas");
        out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convert(v, `${at}.${k}`, defs)]));
        break;
      case "required":
        if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) fail(at, "required must be an array of property names");
        out.required = value;
        break;
      case "additionalProperties":
        out.additionalProperties = typeof value === "boolean" ? value : convert(value, at, defs);
        break;
      case "items":
        out.items = convert(value, at, defs);
        break;
      case "prefixItems":
        if (!Array.isArray(value)) fail(at, "prefixItems must be an array of schemas");
        out.prefixItems = value.map((v, i) => convert(v, `${at}.${i}`, defs));
        break;
      case "minProperties":
      case "maxProperties":
      case "minItems":
      case "maxItems":
      case "minLength":
      case "maxLength":
        if (!isInt(value)) fail(at, `${key} must be a non-negative integer`);
        out[key] = value;
        break;
      case "format":
        if (typeof value !== "string" || !FORMATS.has(value)) fail(at, `format "${String(value)}" cannot be enforced; supported: ${[...FORMATS].join(", ")}`);
        out.format = value;
        break;
      case "$ref": {
        const m = typeof value === "string" ? /^#\/(?:\$defs|definitions)\/(.+)$/.exec(value) : null;
        if (!m || !defs.has(m[1]!)) fail(at, `$ref must point to a definition in this schema (#/$defs/name), got ${JSON.stringify(value)}`);
        out.$ref = `#/$defs/${m[1]}`;
        break;
      }
      case "$defs":
      case "definitions":
        if (!value || typeof value !== "object" || Array.isArray(value)) fail(at, `${key} must be an object of schemas`);
        out.$defs = { ...(out.$defs as Json | undefined), ...Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convert(v, `${at}.${k}`, defs)])) };
        break;
    }
  }
  if (out.type === undefined && out.enum === undefined && out.const === undefined && out.oneOf === undefined && out.$ref === undefined) {
    // An empty schema accepts any JSON value.
    if (Object.keys(out).filter((k) => k !== "description" && k !== "$defs").length === 0) return { ...out, type: ["string", "number", "boolean", "null", "object", "array"] };
    fail(path, "a schema needs a type, enum, const, oneOf/anyOf or $ref");
  }
  return out;
}
