/**
 * Structured output: turns response_format (json_object, json_schema) and vLLM/NIM's guided_json,
 * guided_choice, guided_regex and guided_grammar into a compiled grammar. Problems are 400s naming the field.
 */
import type { Engine, GrammarSpec, PreparedGrammar } from "../../engine/types.js";
import { GrammarError } from "../../engine/types.js";
import { ApiError } from "../errors.js";
import { convertJsonSchema } from "./json-schema.js";
import type { SamplingRequest } from "../protocol.js";

function spec(body: SamplingRequest): { spec: GrammarSpec; param: string } | undefined {
  const rf = body.response_format;
  if (rf?.type === "json_object") return { spec: { kind: "json" }, param: "response_format" };
  if (rf?.type === "json_schema") {
    const param = "response_format.json_schema.schema";
    if (!rf.json_schema.schema) throw ApiError.invalid(`Invalid value for '${param}': Required`, param);
    // Not strict: what no grammar enforces is left out here and checked after generation (structured-check.ts).
    return { spec: { kind: "json_schema", schema: convertJsonSchema(rf.json_schema.schema, param, rf.json_schema.strict === true ? undefined : []) }, param };
  }
  if (body.guided_json != null) {
    let schema: unknown = body.guided_json;
    if (typeof schema === "string") {
      try {
        schema = JSON.parse(schema);
      } catch {
        throw ApiError.invalid("Invalid value for 'guided_json': not a JSON schema object or JSON text", "guided_json");
      }
    }
    return { spec: { kind: "json_schema", schema: convertJsonSchema(schema, "guided_json", typeof body.guided_json === "object" ? [] : undefined) }, param: "guided_json" };
  }
  if (body.guided_choice != null) return { spec: { kind: "choice", choices: body.guided_choice }, param: "guided_choice" };
  if (body.guided_regex != null) return { spec: { kind: "regex", regex: body.guided_regex }, param: "guided_regex" };
  if (body.guided_grammar != null) return { spec: { kind: "gbnf", grammar: body.guided_grammar }, param: "guided_grammar" };
  return undefined;
}

/** The compiled grammar a request asks for, if any. */
export async function requestGrammar(engine: Engine, body: SamplingRequest): Promise<PreparedGrammar | undefined> {
  const wanted = spec(body);
  return wanted ? compileGrammar(engine, wanted.spec, wanted.param) : undefined;
}

/** Compiles a grammar; one that cannot be compiled is a 400 naming the field it came from. */
export async function compileGrammar(engine: Engine, grammar: GrammarSpec, param: string): Promise<PreparedGrammar> {
  try {
    return await engine.prepareGrammar(grammar);
  } catch (err) {
    if (err instanceof GrammarError) throw ApiError.invalid(`Invalid value for '${param}': ${err.message}`, param, "invalid_grammar");
    throw err;
  }
}
