/**
 * JSON-schema keywords node-llama-cpp's schema grammar does not enforce, enforced here: integer
 * bounds (minimum, maximum, exclusiveMinimum, exclusiveMaximum, as llama.cpp's converter does),
 * string `pattern` (through the regex translator) and the formats uuid, email and uri. Each such
 * value is swapped for a unique placeholder constant before node-llama-cpp builds the grammar,
 * and the placeholder's literal in the grammar is then replaced by a rule of our own.
 */
import { regexSearchBranches } from "./regex-gbnf.js";

type Json = Record<string, unknown>;

/** Most digits of a bounded-on-one-side integer (JSON numbers past 2^53 lose precision anyway). */
const MAX_DIGITS = 15;
const INT_BOUNDS = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"] as const;
/** A character a JSON string may hold unescaped (and that is valid UTF-8 on its own; see grammar.ts). */
const STRING_CHAR = String.raw`[^"\\\x7F\x00-\x1F\x80-\xBF]`;

const FORMATS: Record<string, string> = {
  uuid: '[0-9a-f]{8} "-" [0-9a-f]{4} "-" [1-8] [0-9a-f]{3} "-" [89ab] [0-9a-f]{3} "-" [0-9a-f]{12}',
  email: '[a-zA-Z0-9_%+-]{1,32} ("." [a-zA-Z0-9_%+-]{1,32}){0,3} "@" [a-zA-Z0-9] ([a-zA-Z0-9-]{0,30} [a-zA-Z0-9])? ("." [a-zA-Z0-9] ([a-zA-Z0-9-]{0,30} [a-zA-Z0-9])?){0,3} "." [a-zA-Z]{2,12}',
  uri: '"http" "s"? "://" [a-z0-9] ([a-z0-9-]{0,30} [a-z0-9])? ("." [a-z0-9] ([a-z0-9-]{0,30} [a-z0-9])?){0,3} ("/" [a-zA-Z0-9._~%!$&\'()*+,;=:@-]{0,40}){0,8}',
};

/** Whether this module enforces the string format (node-llama-cpp enforces date, time and date-time itself). */
export function isExtendedFormat(format: string): boolean {
  return Object.hasOwn(FORMATS, format); // not `in`: "toString" is no format
}

/** A GBNF expression for the digits of every integer in [lo, hi], both non-negative with the same number of digits. */
function sameLength(lo: string, hi: string): string {
  if (lo === hi) return `"${lo}"`;
  const k = lo.length - 1;
  const a = Number(lo[0]);
  const b = Number(hi[0]);
  if (k === 0) return `[${a}-${b}]`;
  const loRest = lo.slice(1);
  const hiRest = hi.slice(1);
  if (a === b) return `"${a}" (${sameLength(loRest, hiRest)})`;
  const zeros = "0".repeat(k);
  const nines = "9".repeat(k);
  const parts: string[] = [];
  let start = a;
  if (loRest !== zeros) {
    parts.push(`"${a}" (${sameLength(loRest, nines)})`);
    start = a + 1;
  }
  const end = hiRest === nines ? b : b - 1;
  if (start <= end) parts.push(`${start === end ? `"${start}"` : `[${start}-${end}]`} [0-9]{${k}}`);
  if (hiRest !== nines) parts.push(`"${b}" (${sameLength(zeros, hiRest)})`);
  return parts.join(" | ");
}

/** Every integer in [lo, hi], both non-negative, written without leading zeros. */
function nonNegativeRange(lo: bigint, hi: bigint): string {
  const parts: string[] = [];
  let from = lo;
  while (from <= hi) {
    const digits = from.toString().length;
    const top = 10n ** BigInt(digits) - 1n;
    const to = hi < top ? hi : top;
    parts.push(sameLength(from.toString(), to.toString()));
    from = top + 1n;
  }
  return parts.map((p) => `(${p})`).join(" | ");
}

/** A GBNF expression for the integers in [min, max] (either side may be open). */
export function integerRangeGbnf(min: bigint | undefined, max: bigint | undefined): string {
  const limit = 10n ** BigInt(MAX_DIGITS) - 1n;
  const lo = min ?? -limit;
  const hi = max ?? limit;
  if (lo > hi) throw new Error(`no integer is between the bounds ${lo} and ${hi}`);
  const parts: string[] = [];
  if (lo < 0n) parts.push(`"-" (${nonNegativeRange(hi < 0n ? -hi : 1n, -lo)})`);
  if (hi >= 0n) parts.push(nonNegativeRange(lo > 0n ? lo : 0n, hi));
  return parts.join(" | ");
}

/** The integer bounds of a schema, as an inclusive range; undefined when it has none. */
function integerBounds(s: Json): { min?: bigint; max?: bigint } | undefined {
  if (!INT_BOUNDS.some((k) => typeof s[k] === "number")) return undefined;
  const ceil = (v: unknown) => (typeof v === "number" ? BigInt(Math.ceil(v)) : undefined);
  const floor = (v: unknown) => (typeof v === "number" ? BigInt(Math.floor(v)) : undefined);
  const bigger = (a?: bigint, b?: bigint) => (a === undefined ? b : b === undefined ? a : a > b ? a : b);
  const smaller = (a?: bigint, b?: bigint) => (a === undefined ? b : b === undefined ? a : a < b ? a : b);
  const exMin = typeof s.exclusiveMinimum === "number" ? BigInt(Math.floor(s.exclusiveMinimum)) + 1n : undefined;
  const exMax = typeof s.exclusiveMaximum === "number" ? BigInt(Math.ceil(s.exclusiveMaximum)) - 1n : undefined;
  return { min: bigger(ceil(s.minimum), exMin), max: smaller(floor(s.maximum), exMax) };
}

/**
 * A JSON string whose content matches `pattern` under JSON Schema's search semantics: each
 * top-level alternative not anchored at a side allows any text there (`^a|b$`: starts with "a"
 * or ends with "b").
 */
function patternGbnf(pattern: string): string {
  // Characters a JSON string cannot hold raw stay out of negated classes and `.`.
  const jsonSafe = (gbnf: string) => gbnf.replace(/\[\^/g, String.raw`[^"\\\x00-\x1F`);
  const branches = regexSearchBranches(pattern).map(
    (b) => `${b.start ? "" : `${STRING_CHAR}* `}${jsonSafe(b.gbnf)}${b.end ? "" : ` ${STRING_CHAR}*`}`,
  );
  return `"\\"" (${branches.join(" | ")}) "\\""`;
}

/** The schema with placeholders, and the rule each placeholder stands for. */
export function extractExtendedRules(schema: Json): { schema: Json; rules: Map<string, string> } {
  const rules = new Map<string, string>();
  const placeholder = (rule: string): Json => {
    const name = `__NIMBLE_RULE_${rules.size}__`;
    rules.set(name, rule);
    return { const: name };
  };
  const walk = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(walk);
    if (!node || typeof node !== "object") return node;
    const s = node as Json;
    // json-schema.ts keeps bounds on schemas whose only type is integer: "integer" or ["integer"].
    if (s.type === "integer" || (Array.isArray(s.type) && s.type.length === 1 && s.type[0] === "integer")) {
      const bounds = integerBounds(s);
      if (bounds) return placeholder(integerRangeGbnf(bounds.min, bounds.max));
    }
    if (s.type === "string" && typeof s.pattern === "string") return placeholder(patternGbnf(s.pattern));
    if (s.type === "string" && typeof s.format === "string" && isExtendedFormat(s.format)) return placeholder(`"\\"" ${FORMATS[s.format]} "\\""`);
    const out: Json = {};
    for (const [k, v] of Object.entries(s)) out[k] = k === "enum" || k === "const" ? v : walk(v);
    return out;
  };
  return { schema: walk(schema) as Json, rules };
}

/** Puts the rules in place of their placeholders' literals in node-llama-cpp's grammar. */
export function applyExtendedRules(gbnf: string, rules: Map<string, string>): string {
  let out = gbnf;
  let index = 0;
  for (const [name, rule] of rules) {
    const ruleName = `nimble-rule-${index++}`;
    out = out.replaceAll(`"\\"${name}\\""`, ruleName);
    out += `\n${ruleName} ::= ${rule}`;
  }
  return out;
}
