/**
 * What a JSON schema asks that no grammar enforces (bounds on non-integers, multipleOf,
 * uniqueItems, not, …). With `strict: true` such a keyword is a 400 naming it, as OpenAI does;
 * otherwise the output is generated under the rest of the schema and then validated against the
 * whole schema, and the response says which keywords were not enforced and whether the output
 * passed (`structured_output`; see docs/API.md).
 */
import { createRequire } from "node:module";
import type { ValidateFunction } from "ajv";
import { convertJsonSchema } from "./json-schema.js";
import type { SamplingRequest } from "../protocol.js";

export interface StructuredOutputReport {
  /** Paths of the schema keywords the grammar did not enforce. */
  unenforced: string[];
  /** Whether the output met the whole schema. */
  valid: boolean;
  /** Why not (at most 10 messages). */
  errors?: string[];
}

// ajv (the validator Fastify uses) is CommonJS.
const require = createRequire(import.meta.url);
const Ajv = require("ajv") as typeof import("ajv").default;
const addFormats = require("ajv-formats") as typeof import("ajv-formats").default;
let ajv: InstanceType<typeof Ajv> | undefined;

function compile(schema: Record<string, unknown>): ValidateFunction | undefined {
  if (!ajv) {
    ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
    addFormats(ajv);
  }
  try {
    const { $schema: _, ...rest } = schema;
    return ajv.compile(rest);
  } catch {
    return undefined;
  }
}

/**
 * The after-generation check a request's response_format (or guided_json) needs, if any: only
 * schemas with keywords the grammar left out get one. Strict schemas with such keywords never get
 * here: converting them for the grammar is a 400.
 */
export function checkStructuredOutput(body: Pick<SamplingRequest, "response_format" | "guided_json">): { check?: (text: string) => StructuredOutputReport } {
  let schema: unknown;
  let param: string;
  const rf = body.response_format;
  if (rf?.type === "json_schema" && rf.json_schema.schema && rf.json_schema.strict !== true) {
    schema = rf.json_schema.schema;
    param = "response_format.json_schema.schema";
  } else if (body.guided_json != null && typeof body.guided_json === "object") {
    schema = body.guided_json;
    param = "guided_json";
  } else {
    return {};
  }
  const unenforced: string[] = [];
  convertJsonSchema(schema, param, unenforced);
  if (unenforced.length === 0) return {};
  const validate = compile(schema as Record<string, unknown>);
  return {
    check: (text) => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return { unenforced, valid: false, errors: ["the output is not complete JSON"] };
      }
      if (!validate) return { unenforced, valid: false, errors: ["the schema cannot be compiled for validation"] };
      if (validate(value)) return { unenforced, valid: true };
      return { unenforced, valid: false, errors: (validate.errors ?? []).slice(0, 10).map((e) => `${e.instancePath || "/"} ${e.message ?? "is invalid"}`) };
    },
  };
}
