/**
 * Prompt sets for compare.ts, over the shared text generator and tokenizer client in src/bench:
 * `count` distinct prompts (no two share a first word) of about `targetTokens` tokens.
 */
import { sizedText } from "../src/bench/text.js";
import type { TokenCounter } from "../src/bench/tokenize.js";

export { promptWords, rng, seedOf, uniqueWord } from "../src/bench/text.js";
export { serverTokenCounter, type TokenCounter } from "../src/bench/tokenize.js";

export interface PromptSetOptions {
  count: number;
  seed: number;
  /** Index of the first prompt (default 0): give each set of one run its own index range. */
  firstIndex?: number;
  targetTokens?: number;
  /** Exact counter (preferred); without one, sizes are estimated at 4 characters per token. */
  counter?: TokenCounter;
}

export interface PromptSet {
  prompts: string[];
  sizing: "tokenize" | "estimate";
  tokens: number[];
}

export async function buildPrompts(o: PromptSetOptions): Promise<PromptSet> {
  const prompts: string[] = [];
  const tokens: number[] = [];
  for (let i = 0; i < o.count; i++) {
    const t = await sizedText(o.seed, (o.firstIndex ?? 0) + i, o.targetTokens ?? 300, o.counter);
    prompts.push(t.text);
    tokens.push(t.tokens);
  }
  return { prompts, sizing: o.counter ? "tokenize" : "estimate", tokens };
}
