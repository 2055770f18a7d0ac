/**
 * OpenAI's moderation result shape, backed by the guard model (Llama Guard categories mapped onto
 * OpenAI's 13) and a small lexical heuristic for explicit self-harm intent and threats. What
 * neither can judge is reported false with score 0 (docs/GUARDRAILS.md lists which).
 */
import type { Engine } from "../engine/types.js";
import { guardClassify, LLAMA_GUARD_CATEGORIES } from "./guard-model.js";

export const MODERATION_CATEGORIES = [
  "harassment", "harassment/threatening", "hate", "hate/threatening", "illicit", "illicit/violent",
  "self-harm", "self-harm/instructions", "self-harm/intent", "sexual", "sexual/minors", "violence", "violence/graphic",
] as const;
export type ModerationCategory = (typeof MODERATION_CATEGORIES)[number];

/** Which OpenAI categories a Llama Guard category stands for. */
export const LLAMA_GUARD_TO_OPENAI: Record<string, ModerationCategory[]> = {
  S1: ["violence", "illicit/violent"],
  S2: ["illicit"],
  S3: ["sexual", "illicit"],
  S4: ["sexual/minors"],
  S9: ["illicit/violent", "violence"],
  S10: ["hate"],
  S11: ["self-harm"],
  S12: ["sexual"],
};

/** Lexical signals (English; explicit phrasings only). */
const LEXICON: [ModerationCategory[], RegExp][] = [
  [["self-harm", "self-harm/intent"], /\b(?:i\s{1,4}(?:want|am\s{1,4}going|plan|intend)\s{1,4}to\s{1,4}(?:kill\s{1,4}myself|end\s{1,4}my\s{1,4}life|hurt\s{1,4}myself|cut\s{1,4}myself)|i\s{1,4}(?:wanna|will)\s{1,4}(?:die|kill\s{1,4}myself))\b/i],
  [["self-harm", "self-harm/instructions"], /\bhow\s{1,4}(?:to|do\s{1,4}i|can\s{1,4}i)\s{1,4}(?:kill\s{1,4}myself|commit\s{1,4}suicide|cut\s{1,4}myself|overdose)\b/i],
  [["harassment", "harassment/threatening", "violence"], /\bi\s{1,4}(?:will|am\s{1,4}going\s{1,4}to|'m\s{1,4}going\s{1,4}to|'ll)\s{1,4}(?:kill|murder|hurt|stab|shoot)\s{1,4}you\b/i],
  [["illicit/violent", "violence"], /\bhow\s{1,4}(?:to|do\s{1,4}i|can\s{1,4}i)\s{1,4}(?:make|build)\s{1,4}(?:a\s{1,4})?(?:bomb|pipe\s{1,4}bomb|explosive|nerve\s{1,4}agent)\b/i],
];

export interface ModerationResult {
  flagged: boolean;
  categories: Record<ModerationCategory, boolean>;
  category_scores: Record<ModerationCategory, number>;
  category_applied_input_types: Record<ModerationCategory, ("text" | "image")[]>;
}

/** Moderates one text: with a guard model when one is given, and the lexicon always. */
export async function moderate(text: string, guard: { engine: Engine; threshold: number } | undefined): Promise<ModerationResult> {
  const scores = Object.fromEntries(MODERATION_CATEGORIES.map((c) => [c, 0])) as Record<ModerationCategory, number>;
  for (const [cats, re] of LEXICON) if (re.test(text)) for (const c of cats) scores[c] = Math.max(scores[c], 0.9);
  if (guard) {
    const v = await guardClassify(guard.engine, [{ role: "user", content: text }], "User", { categories: Object.keys(LLAMA_GUARD_CATEGORIES), threshold: guard.threshold });
    for (const s of v.categories) for (const c of LLAMA_GUARD_TO_OPENAI[s] ?? []) scores[c] = Math.max(scores[c], v.score);
  }
  const threshold = guard?.threshold ?? 0.5;
  const categories = Object.fromEntries(MODERATION_CATEGORIES.map((c) => [c, scores[c] > 0 && scores[c] >= threshold])) as Record<ModerationCategory, boolean>;
  return {
    flagged: Object.values(categories).some(Boolean),
    categories,
    category_scores: scores,
    category_applied_input_types: Object.fromEntries(MODERATION_CATEGORIES.map((c) => [c, ["text"]])) as Record<ModerationCategory, "text"[]>,
  };
}
