/**
 * Checks a JSON Schema against what a grammar can enforce, and converts it to the dialect the
 * engine compiles (anyOf → oneOf, definitions → $defs, allOf merged). Enforced besides types and
 * structure: integer bounds, string patterns and lengths, the formats date, time, date-time,
 * uuid, email and uri, array lengths. What a grammar cannot express (bounds on non-integers,
 * multipleOf, uniqueItems, not, if/then/else, …) is rejected with the path of the offending
 * keyword — or, when the caller collects them (`unenforced`), left out of the grammar and listed
 * there, for the output to be checked after generation.
 */
import { isExtendedFormat } from "../../engine/schema-gbnf.js";
import { ApiError } from "../errors.js";

const TYPES = new Set(["string", "number", "integer", "boolean", "null", "object", "array"]);
const ANNOTATIONS = new Set(["title", "description", "$schema", "$id", "$comment", "default", "examples", "deprecated", "readOnly", "writeOnly", "strict", "name"]);
const FORMATS = new Set(["date-time", "time", "date"]);
const BOUNDS = new Set(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]);
const UNSUPPORTED: Record<string, string> = {
  patternProperties: "pattern properties",
  minimum: "numeric bounds on non-integers",
  maximum: "numeric bounds on non-integers",
  exclusiveMinimum: "numeric bounds on non-integers",
  exclusiveMaximum: "numeric bounds on non-integers",
  multipleOf: "numeric multiples",
  not: "not",
  if: "conditional schemas",
  then: "conditional schemas",
  else: "conditional schemas",
  dependentRequired: "dependencies",
  dependentSchemas: "dependencies",
  uniqueItems: "unique items",
  contains: "contains",
};
const KNOWN = new Set(["pattern", "type", "enum", "const", "oneOf", "anyOf", "properties", "required", "additionalProperties", "minProperties", "maxProperties", "items", "prefixItems", "minItems", "maxItems", "minLength", "maxLength", "format", "$ref", "$defs", "definitions"]);

type Json = Record<string, unknown>;

/**
 * Converts a schema for the engine. With `unenforced`, keywords no grammar can enforce are left
 * out and their paths pushed there; without it they are 400s.
 */
export function convertJsonSchema(schema: unknown, param: string, unenforced?: string[]): Json {
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
  return convert(schema, param, defs, unenforced) as Json;
}

function fail(path: string, message: string): never {
  throw ApiError.invalid(`Invalid JSON schema at '${path}': ${message}`, path, "invalid_schema");
}

function isInt(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

/** A grammar can bound integers only: a schema whose only type is integer. */
function integerOnly(s: Json): boolean {
  return s.type === "integer" || (Array.isArray(s.type) && s.type.length === 1 && s.type[0] === "integer");
}

/** allOf as one schema: properties and required lists joined, other keywords of later members win. */
function mergeAllOf(s: Json, path: string): Json {
  const { allOf, ...rest } = s;
  if (!Array.isArray(allOf) || allOf.length === 0) fail(`${path}.allOf`, "allOf must be a non-empty array of schemas");
  let merged: Json = rest;
  allOf.forEach((member, i) => {
    if (!member || typeof member !== "object" || Array.isArray(member)) fail(`${path}.allOf.${i}`, "a schema must be an object");
    let m = member as Json;
    if (m.$ref !== undefined) fail(`${path}.allOf.${i}.$ref`, "allOf members must be written out, not referenced");
    if (m.allOf !== undefined) m = mergeAllOf(m, `${path}.allOf.${i}`);
    const properties = { ...(merged.properties as Json | undefined) };
    for (const [k, v] of Object.entries((m.properties as Json | undefined) ?? {})) properties[k] = k in properties ? mergeAllOf({ allOf: [properties[k], v] }, `${path}.allOf.${i}.properties.${k}`) : v;
    const required = [...new Set([...((merged.required as string[] | undefined) ?? []), ...((m.required as string[] | undefined) ?? [])])];
    merged = { ...merged, ...m, ...(Object.keys(properties).length > 0 ? { properties } : {}), ...(required.length > 0 ? { required } : {}) };
  });
  return merged;
}

function convert(schema: unknown, path: string, defs: Set<string>, unenforced?: string[]): Json | boolean {
  if (schema === true || schema === false) return schema;
  if (!schema || typeof schema !== "object" || Array.isArray(schema)) fail(path, "a schema must be an object");
  const s = (schema as Json).allOf !== undefined ? mergeAllOf(schema as Json, path) : (schema as Json);
  const out: Json = {};
  const convert1 = (v: unknown, at: string) => convert(v, at, defs, unenforced);
  for (const [key, value] of Object.entries(s)) {
    const at = `${path}.${key}`;
    if (ANNOTATIONS.has(key)) {
      if (key === "description" && typeof value === "string") out.description = value;
      continue;
    }
    if (BOUNDS.has(key) && integerOnly(s)) {
      if (typeof value !== "number") fail(at, `${key} must be a number`);
      out[key] = value;
      continue;
    }
    if (key === "pattern" || (key === "format" && typeof value === "string" && !FORMATS.has(value) && !isExtendedFormat(value))) {
      const patternOk = key === "pattern" && s.type === "string" && typeof value === "string";
      if (!patternOk) {
        if (unenforced) { unenforced.push(at); continue; }
        fail(at, key === "pattern" ? "pattern is enforced on strings only (type: \"string\")" : `format "${String(value)}" cannot be enforced; supported: ${[...FORMATS, "uuid", "email", "uri"].join(", ")}`);
      }
      out.pattern = value;
      continue;
    }
    if (key in UNSUPPORTED) {
      if (unenforced) { unenforced.push(at); continue; }
      fail(at, `${UNSUPPORTED[key]} cannot be enforced by a grammar; remove "${key}" (or, in response_format / text.format, set strict: false to have it checked after generation)`);
    }
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
        out.oneOf = value.map((v, i) => convert1(v, `${at}.${i}`));
        break;
      case "properties":
        if (!value || typeof value !== "object" || Array.isArray(value)) fail(at, "properties must be an object of schemas");
        out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convert1(v, `${at}.${k}`)]));
        break;
      case "required":
        if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) fail(at, "required must be an array of property names");
        out.required = value;
        break;
      case "additionalProperties":
        out.additionalProperties = typeof value === "boolean" ? value : convert1(value, at);
        break;
      case "items":
        out.items = convert1(value, at);
        break;
      case "prefixItems":
        if (!Array.isArray(value)) fail(at, "prefixItems must be an array of schemas");
        out.prefixItems = value.map((v, i) => convert1(v, `${at}.${i}`));
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
        if (typeof value !== "string") fail(at, "format must be a string");
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
        out.$defs = { ...(out.$defs as Json | undefined), ...Object.fromEntries(Object.entries(value).map(([k, v]) => [k, convert1(v, `${at}.${k}`)])) };
        break;
    }
  }
  // A pattern or a format rule replaces the whole string rule: lengths are then checked afterwards.
  if (out.pattern !== undefined || (typeof out.format === "string" && isExtendedFormat(out.format))) {
    for (const key of ["minLength", "maxLength"]) {
      if (out[key] === undefined) continue;
      if (!unenforced) fail(`${path}.${key}`, `${key} cannot be enforced together with ${out.pattern !== undefined ? "pattern" : "format"}; remove one`);
      unenforced.push(`${path}.${key}`);
      delete out[key];
    }
  }
  if (out.type === undefined && out.enum === undefined && out.const === undefined && out.oneOf === undefined && out.$ref === undefined) {
    // An empty schema accepts any JSON value.
    if (Object.keys(out).filter((k) => k !== "description" && k !== "$defs").length === 0) return { ...out, type: ["string", "number", "boolean", "null", "object", "array"] };
    fail(path, "a schema needs a type, enum, const, oneOf/anyOf or $ref");
  }
  return out;
}
