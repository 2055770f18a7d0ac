/**
 * The guardrails file (YAML): named configurations of rails, a server default, moderation
 * settings. Validated with zod; a problem is reported with the file, line and column it is at
 * (positions from the `yaml` package's document nodes).
 */
import { readFileSync } from "node:fs";
import { LineCounter, parseDocument, type Document } from "yaml";
import { z } from "zod";
import { INJECTION_SETS } from "./injection.js";
import { PII_ENTITIES } from "./pii.js";
import { PHONE_COUNTRIES } from "./validators.js";
import { LLAMA_GUARD_CATEGORIES } from "./guard-model.js";

export class GuardrailsConfigError extends Error {
  override name = "GuardrailsConfigError";
}

const railTypes = z.enum(["input", "output", "retrieval"]);
const action = z.enum(["block", "mask", "log"]);

/** A regex from the file: compiled here; nested quantifiers (the catastrophic kind) are refused. */
const userRegex = z.string().min(1).superRefine((src, ctx) => {
  try {
    new RegExp(src);
  } catch (err) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `invalid regular expression: ${(err as Error).message}` });
    return;
  }
  if (/\((?:[^()\\]|\\.)*(?:[*+]|\{\d+,\d*\})\)(?:[*+?]|\{\d+,\d*\})/.test(src)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: "a quantified group holding a quantifier (e.g. (a+)+) can take exponential time: rewrite it without nesting" });
  }
});
const namedPattern = z.object({ name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "use letters, digits, '_', '.' or '-'"), regex: userRegex, flags: z.string().regex(/^[imsu]*$/).optional() }).strict();

const common = {
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "use 1-64 letters, digits, '_', '.' or '-'").optional(),
  type: railTypes,
  action: action.default("block"),
  on_error: z.enum(["closed", "open"]).optional(),
};

const piiRail = z.object({
  ...common,
  kind: z.literal("pii"),
  entities: z.array(z.enum(PII_ENTITIES)).min(1).default([...PII_ENTITIES]),
  phone_regions: z.array(z.string().refine((r) => r in PHONE_COUNTRIES, (r) => ({ message: `unknown phone region '${r}' (known: ${Object.keys(PHONE_COUNTRIES).join(", ")})` }))).default(["US", "CA", "GB", "DE", "FR", "IN"]),
  patterns: z.array(namedPattern).default([]),
  deny: z.array(z.string().min(1)).default([]),
  secret_entropy: z.number().min(0).max(8).default(3.5),
}).strict();

const injectionRail = z.object({
  ...common,
  kind: z.literal("injection"),
  sets: z.array(z.enum(INJECTION_SETS)).min(1).default([...INJECTION_SETS]),
}).strict();

const bannedRail = z.object({
  ...common,
  kind: z.literal("banned"),
  terms: z.array(z.string().min(1)).default([]),
  patterns: z.array(namedPattern).default([]),
}).strict();

const lengthRail = z.object({ ...common, type: z.literal("output"), kind: z.literal("length"), max_chars: z.number().int().positive() }).strict();
const jsonRail = z.object({ ...common, type: z.literal("output"), kind: z.literal("json_schema") }).strict();

const perplexityRail = z.object({
  ...common,
  type: z.literal("input"),
  kind: z.literal("perplexity"),
  /** A served chat model's id; default: the request's model. */
  model: z.string().min(1).optional(),
  length_per_perplexity_threshold: z.number().positive().default(89.79),
  prefix_suffix_perplexity_threshold: z.number().positive().default(1845.65),
  /** Longest text scored, in tokens (its start is scored). */
  max_tokens: z.number().int().positive().max(2048).default(256),
}).strict();

const topicRail = z.object({
  ...common,
  type: z.literal("input"),
  kind: z.literal("topic"),
  /** A served embedding model's id; default: the first one. */
  model: z.string().min(1).optional(),
  allowed: z.array(z.string().min(1)).default([]),
  denied: z.array(z.string().min(1)).default([]),
  /** Off topic when the best similarity to an allowed topic is below it. */
  allowed_threshold: z.number().min(-1).max(1).default(0.3),
  /** Off topic when the best similarity to a denied topic reaches it (and beats the allowed ones). */
  denied_threshold: z.number().min(-1).max(1).default(0.5),
}).strict();

const guardRail = z.object({
  ...common,
  type: z.enum(["input", "output"]),
  kind: z.literal("guard_model"),
  model: z.string().min(1).optional(),
  threshold: z.number().min(0).max(1.01).default(0.5),
  categories: z.array(z.enum(Object.keys(LLAMA_GUARD_CATEGORIES) as [string, ...string[]])).min(1).default(Object.keys(LLAMA_GUARD_CATEGORIES)),
  /** Token text → bias for the verdict's first token (to force verdicts when testing mechanics). */
  logit_bias: z.record(z.number()).optional(),
}).strict();

const selfCheckRail = z.object({
  ...common,
  type: z.enum(["input", "output"]),
  kind: z.literal("self_check"),
  model: z.string().min(1).optional(),
  /** The question; {{ user_input }} and {{ bot_response }} are replaced. The answer is "yes" (block) or "no". */
  prompt: z.string().min(1).optional(),
  /** Token text → bias for the answer (to force verdicts when testing mechanics). */
  logit_bias: z.record(z.number()).optional(),
}).strict();

export const railSchema = z.discriminatedUnion("kind", [piiRail, injectionRail, bannedRail, lengthRail, jsonRail, perplexityRail, topicRail, guardRail, selfCheckRail]);
export type RailConfig = z.infer<typeof railSchema>;

export const guardrailsConfigSchema = z.object({
  /** The answer a block gives (finish_reason "content_filter"). */
  refusal: z.string().default("I'm sorry, I can't help with that."),
  on_error: z.enum(["closed", "open"]).default("closed"),
  mask: z.object({
    /** "label": [EMAIL]; "stable": [EMAIL_1], the same placeholder for the same value in a request. */
    style: z.enum(["label", "stable"]).default("label"),
    /** Put the original values back in the answer where the model repeated a stable placeholder. */
    unmask_output: z.boolean().default(false),
  }).strict().default({}),
  streaming: z.object({
    chunk_size: z.number().int().positive().default(200),
    context_size: z.number().int().nonnegative().default(50),
    stream_first: z.boolean().default(true),
  }).strict().default({}),
  rails: z.array(railSchema).default([]),
}).strict();
export type GuardrailsConfig = z.infer<typeof guardrailsConfigSchema> & { id: string };

export const guardrailsFileSchema = z.object({
  default: z.string().min(1).optional(),
  moderation: z.object({ model: z.string().min(1).optional(), threshold: z.number().min(0).max(1).default(0.5) }).strict().default({}),
  configs: z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "config ids use letters, digits, '_', '.' or '-'"), guardrailsConfigSchema),
}).strict();

export interface GuardrailsFile {
  /** The server's default configuration (used when a request and its key name none). */
  default?: string;
  moderation: { model?: string; threshold: number };
  configs: Map<string, GuardrailsConfig>;
  /** Where it was read from (for messages). */
  source: string;
}

/** A rail's name: given, or `<kind>_<type>`; names are unique within a configuration. */
export function railName(rail: RailConfig): string {
  return rail.name ?? `${rail.kind}_${rail.type}`;
}

/** Kinds that can mask (their findings are spans of text). */
export const MASKABLE = new Set(["pii", "injection", "banned"]);

function position(doc: Document, lines: LineCounter, path: (string | number)[]): string {
  for (let p = path; p.length >= 0; p = p.slice(0, -1)) {
    const node = doc.getIn(p, true) as { range?: [number, number, number] } | undefined;
    if (node?.range) {
      const { line, col } = lines.linePos(node.range[0]);
      return `line ${line}, column ${col}`;
    }
    if (p.length === 0) break;
  }
  return "line 1, column 1";
}

/** Parses and validates guardrails YAML (or JSON) text; errors name `source`, the line and the problem. */
export function parseGuardrails(text: string, source = "guardrails.yaml"): GuardrailsFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const at = e.linePos?.[0] ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : "line 1, column 1";
    throw new GuardrailsConfigError(`${source}:${at.replace(/^line (\d+), column (\d+)$/, "$1:$2")}: invalid YAML: ${e.message.split("\n")[0]}`);
  }
  const parsed = guardrailsFileSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = position(doc, lines, issue.path);
    const where = issue.path.length > 0 ? ` at ${issue.path.join(".")}` : "";
    throw new GuardrailsConfigError(`${source}:${at.replace(/^line (\d+), column (\d+)$/, "$1:$2")} (${at}): ${issue.message}${where}`);
  }
  const configs = new Map<string, GuardrailsConfig>();
  for (const [id, config] of Object.entries(parsed.data.configs)) {
    const seen = new Set<string>();
    config.rails.forEach((rail, i) => {
      const name = railName(rail);
      const fail = (message: string, key: string) => {
        const at = position(doc, lines, ["configs", id, "rails", i, key]);
        throw new GuardrailsConfigError(`${source}:${at.replace(/^line (\d+), column (\d+)$/, "$1:$2")} (${at}): ${message} at configs.${id}.rails.${i}.${key}`);
      };
      if (seen.has(name)) fail(`two rails are named '${name}' in configuration '${id}': give one a distinct name`, "name");
      seen.add(name);
      if (rail.action === "mask" && !MASKABLE.has(rail.kind)) fail(`a ${rail.kind} rail cannot mask (it finds no span of text): use block or log`, "action");
      if (rail.kind === "topic" && rail.allowed.length + rail.denied.length === 0) fail("a topic rail needs allowed or denied topics", "allowed");
      if (rail.type === "retrieval" && !MASKABLE.has(rail.kind)) fail(`a ${rail.kind} rail cannot run on retrieved chunks: retrieval rails are pii, injection or banned`, "type");
    });
    configs.set(id, { ...config, id });
  }
  const def = parsed.data.default;
  if (def !== undefined && !configs.has(def)) {
    const at = position(doc, lines, ["default"]);
    throw new GuardrailsConfigError(`${source}:${at.replace(/^line (\d+), column (\d+)$/, "$1:$2")} (${at}): default names '${def}', which is not among the configurations (${[...configs.keys()].join(", ") || "none"})`);
  }
  return { ...(def !== undefined ? { default: def } : {}), moderation: parsed.data.moderation, configs, source };
}

/** Reads a guardrails file; a missing or invalid file is a GuardrailsConfigError naming it. */
export function loadGuardrailsFile(path: string): GuardrailsFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new GuardrailsConfigError(`cannot read the guardrails file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseGuardrails(text, path);
}
