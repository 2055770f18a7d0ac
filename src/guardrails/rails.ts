/** Builds the rails of a configuration: each rail kind's check over a list of texts. */
import type { GuardrailsConfig, RailConfig } from "./config.js";
import { railName } from "./config.js";
import { guardClassify } from "./guard-model.js";
import { detectInjection } from "./injection.js";
import { jailbreakHeuristics, SELF_CHECK_INPUT, SELF_CHECK_OUTPUT, selfCheck, topicCheck } from "./model-rails.js";
import { detectPii, findTerms, resolveOverlaps } from "./pii.js";
import type { CheckedText, Finding, Rail, RailContext, Span } from "./types.js";

/** Roles whose text a user controls (the system prompt is the operator's). */
const UNTRUSTED = new Set(["user", "tool", "function", "assistant"]);

function compile(patterns: readonly { name: string; regex: string; flags?: string }[]): { name: string; regex: RegExp }[] {
  return patterns.map((p) => ({ name: p.name, regex: new RegExp(p.regex, `g${p.flags ?? ""}`) }));
}

function spanFinding(spans: Span[], detail?: Record<string, unknown>): Finding {
  if (spans.length === 0) return { fired: false };
  const labels = [...new Set(spans.map((s) => s.label))];
  return { fired: true, spans, detail: { ...detail, found: labels, count: spans.length } };
}

/** A rail checking each text with a span detector. */
function spanRail(base: Omit<Rail, "check">, detect: (text: string) => Omit<Span, "item">[], roles?: Set<string>): Rail {
  return {
    ...base,
    async check(texts: CheckedText[]): Promise<Finding> {
      const spans: Span[] = [];
      texts.forEach((t, item) => {
        if (roles && !roles.has(t.role)) return;
        for (const s of detect(t.text)) spans.push({ ...s, item });
      });
      return spanFinding(spans);
    },
  };
}

/** The last text a user sent (input rails judge it in the light of the whole conversation). */
function lastUser(texts: CheckedText[]): string {
  for (let i = texts.length - 1; i >= 0; i--) if (texts[i]!.role === "user") return texts[i]!.text;
  return texts[texts.length - 1]?.text ?? "";
}

/** The texts a model rail judges, as chat messages. */
function asMessages(texts: CheckedText[], context: RailContext) {
  return context.stage === "output"
    ? [...context.conversation, ...texts.map((t) => ({ role: "assistant", content: t.text }))]
    : texts.map((t) => ({ role: t.role, content: t.text }));
}

export function buildRail(rail: RailConfig, config: GuardrailsConfig): Rail {
  const base = { name: railName(rail), type: rail.type, action: rail.action, kind: rail.kind, onError: rail.on_error ?? config.on_error };
  switch (rail.kind) {
    case "pii": {
      const options = { entities: rail.entities, phoneRegions: rail.phone_regions, patterns: compile(rail.patterns), deny: rail.deny, secretEntropy: rail.secret_entropy };
      return spanRail(base, (text) => detectPii(text, options));
    }
    case "injection": {
      const sets = rail.sets;
      const single = spanRail(base, (text) => detectInjection(text, sets), UNTRUSTED);
      return {
        ...base,
        async check(texts, context) {
          const finding = await single.check(texts, context);
          if (finding.fired || rail.type !== "input") return finding;
          // Multi-turn: an instruction split over several turns is checked joined (NeMo checks only the last message).
          const user = texts.filter((t) => t.role === "user" || t.role === "tool");
          if (user.length < 2) return finding;
          const joined = user.map((t) => t.text).join(" ");
          const found = detectInjection(joined, sets);
          return found.length > 0 ? { fired: true, detail: { found: [...new Set(found.map((f) => f.label))], across_turns: true } } : finding;
        },
      };
    }
    case "banned": {
      const patterns = compile(rail.patterns);
      return spanRail(base, (text) => {
        const out: Omit<Span, "item">[] = [];
        findTerms(text, rail.terms, "banned_term", out);
        for (const p of patterns) {
          p.regex.lastIndex = 0;
          for (let m = p.regex.exec(text); m !== null; m = p.regex.exec(text)) {
            if (m[0].length === 0) { p.regex.lastIndex++; continue; }
            out.push({ start: m.index, end: m.index + m[0].length, label: p.name });
          }
        }
        return resolveOverlaps(out);
      });
    }
    case "length":
      return {
        ...base,
        wholeTextOnly: true,
        async check(texts) {
          const length = texts.reduce((n, t) => n + t.text.length, 0);
          return length > rail.max_chars ? { fired: true, detail: { length, max_chars: rail.max_chars } } : { fired: false };
        },
      };
    case "json_schema":
      return {
        ...base,
        wholeTextOnly: true,
        async check(texts, context) {
          if (!context.responseSchema) return { fired: false };
          const text = texts.map((t) => t.text).join("");
          let value: unknown;
          try {
            value = JSON.parse(text);
          } catch (err) {
            return { fired: true, detail: { reason: `not valid JSON: ${(err as Error).message}` } };
          }
          if (context.responseSchema === "json") return { fired: false };
          const problem = validateJson(value, context.responseSchema, "$");
          return problem ? { fired: true, detail: { reason: problem } } : { fired: false };
        },
      };
    case "perplexity":
      return {
        ...base,
        async check(texts, context) {
          const engine = await context.models.chat(rail.model);
          const h = await jailbreakHeuristics(engine, lastUser(texts), { lengthThreshold: rail.length_per_perplexity_threshold, prefixSuffixThreshold: rail.prefix_suffix_perplexity_threshold, maxTokens: rail.max_tokens, ...(context.signal ? { signal: context.signal } : {}) });
          const detail = { length_per_perplexity: round(h.lengthPerPerplexity), ...(h.prefixPerplexity !== undefined ? { prefix_perplexity: round(h.prefixPerplexity), suffix_perplexity: round(h.suffixPerplexity!) } : {}), heuristics: h.fired };
          return { fired: h.fired.length > 0, detail };
        },
      };
    case "topic":
      return {
        ...base,
        async check(texts, context) {
          const embedder = await context.models.embedding(rail.model);
          const d = await topicCheck(embedder, lastUser(texts), { allowed: rail.allowed, denied: rail.denied, allowedThreshold: rail.allowed_threshold, deniedThreshold: rail.denied_threshold });
          const detail = { ...(d.allowed ? { allowed: d.allowed.topic, allowed_similarity: round(d.allowed.similarity) } : {}), ...(d.denied ? { denied: d.denied.topic, denied_similarity: round(d.denied.similarity) } : {}) };
          return { fired: d.offTopic, detail };
        },
      };
    case "guard_model":
      return {
        ...base,
        async check(texts, context) {
          const engine = await context.models.chat(rail.model);
          const v = await guardClassify(engine, asMessages(texts, context), context.stage === "output" ? "Agent" : "User", { categories: rail.categories, threshold: rail.threshold, ...(rail.logit_bias ? { logitBias: rail.logit_bias } : {}), ...(context.signal ? { signal: context.signal } : {}) });
          return { fired: v.unsafe, detail: { score: round(v.score), categories: v.categories } };
        },
      };
    case "self_check":
      return {
        ...base,
        async check(texts, context) {
          const engine = await context.models.chat(rail.model);
          const output = context.stage === "output";
          const userInput = output ? [...context.conversation].reverse().find((m) => m.role === "user")?.content ?? "" : lastUser(texts);
          const r = await selfCheck(engine, rail.prompt ?? (output ? SELF_CHECK_OUTPUT : SELF_CHECK_INPUT), { user_input: userInput, bot_response: output ? texts.map((t) => t.text).join("") : "" }, context.signal, rail.logit_bias);
          return { fired: r.block, detail: { answer: r.answer } };
        },
      };
  }
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** A small JSON-schema check (type, required, properties, items, enum, const): the first problem, or undefined. */
export function validateJson(value: unknown, schema: Record<string, unknown>, path: string): string | undefined {
  const type = schema.type;
  const typeOf = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : Number.isInteger(v) ? "integer" : typeof v);
  if (typeof type === "string" || Array.isArray(type)) {
    const types = [type].flat() as string[];
    const actual = typeOf(value);
    if (!types.includes(actual) && !(actual === "integer" && types.includes("number"))) return `${path} should be ${types.join(" or ")}, not ${actual}`;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) return `${path} is not one of the allowed values`;
  if ("const" in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) return `${path} should be ${JSON.stringify(schema.const)}`;
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const obj = value as Record<string, unknown>;
    for (const key of (schema.required as string[] | undefined) ?? []) if (!(key in obj)) return `${path}.${key} is required`;
    const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
    for (const [key, sub] of Object.entries(props)) {
      if (key in obj) {
        const p = validateJson(obj[key], sub, `${path}.${key}`);
        if (p) return p;
      }
    }
    if (schema.additionalProperties === false) for (const key of Object.keys(obj)) if (!(key in props)) return `${path}.${key} is not allowed`;
  }
  if (Array.isArray(value) && schema.items && typeof schema.items === "object") {
    for (let i = 0; i < value.length; i++) {
      const p = validateJson(value[i], schema.items as Record<string, unknown>, `${path}[${i}]`);
      if (p) return p;
    }
  }
  return undefined;
}
