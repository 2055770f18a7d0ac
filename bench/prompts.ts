/**
 * Deterministic benchmark prompts: English-like lowercase words from a seeded PRNG, each prompt
 * different from its very first word (so servers cannot reuse a cached prefix across requests),
 * sized to a target token count. Token counts come from the server's `POST /tokenize` when it has
 * one (llama.cpp's server does), else from a characters-per-token ratio calibrated with one
 * completion's `usage.prompt_tokens`, else from a fixed guess.
 */

/** mulberry32: small, fast, good enough for text generation. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes several integers into one 32-bit seed. */
export function seedOf(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) >>> 0;
  }
  return h >>> 0;
}

const ONSETS = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "y", "z",
  "bl", "br", "ch", "cl", "cr", "dr", "fl", "fr", "gl", "gr", "pl", "pr", "sh", "sk", "sl", "sp", "st", "th", "tr", "wh"];
const VOWELS = ["a", "e", "i", "o", "u", "a", "e", "i", "o", "ai", "ea", "ee", "ie", "oo", "ou", "oa"];
const CODAS = ["", "", "", "", "n", "r", "s", "t", "l", "m", "d", "nd", "st", "ng", "ck", "rt", "ll"];
const FUNCTION_WORDS = ["the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "with", "as", "on", "was",
  "by", "at", "from", "this", "which", "or", "but", "not", "are", "be", "an", "had", "they", "their", "there", "into"];

const pick = <T>(r: () => number, list: readonly T[]): T => list[Math.floor(r() * list.length)]!;

function syllable(r: () => number): string {
  return pick(r, ONSETS) + pick(r, VOWELS) + pick(r, CODAS);
}

function word(r: () => number): string {
  if (r() < 0.3) return pick(r, FUNCTION_WORDS);
  const n = 1 + Math.floor(r() * r() * 3.5); // mostly 1-2 syllables, sometimes 3
  let w = "";
  for (let i = 0; i < n; i++) w += syllable(r);
  return w;
}

/**
 * A word that is different for every index (the index written in base ONSETS×VOWELS, least significant
 * digit first, so consecutive prompts already differ in their first letters).
 */
export function uniqueWord(index: number): string {
  let n = index;
  let w = "";
  do {
    const d = n % (ONSETS.length * VOWELS.length);
    w += ONSETS[d % ONSETS.length]! + VOWELS[Math.floor(d / ONSETS.length)]!;
    n = Math.floor(n / (ONSETS.length * VOWELS.length));
  } while (n > 0);
  return `${w}n`; // closing consonant: "a" + "n" etc. avoids words that run into the next
}

/** The words of prompt `index` under `seed`: a first word unique to `index`, then seeded random words. */
export function promptWords(seed: number, index: number, count: number): string[] {
  const r = rng(seedOf(seed, index));
  const words = [uniqueWord(index)];
  while (words.length < count) words.push(word(r));
  return words;
}

/** Counts the tokens of a text; undefined means "cannot count exactly". */
export type TokenCounter = (text: string) => Promise<number>;

/** A counter backed by `POST {url}/tokenize` ({content} → {tokens}), or undefined when the server lacks it. */
export async function serverTokenCounter(url: string, timeoutMs = 10_000): Promise<TokenCounter | undefined> {
  const count: TokenCounter = async (content) => {
    const res = await fetch(`${url}/tokenize`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ content }), signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) throw new Error(`POST ${url}/tokenize: HTTP ${res.status}`);
    const body = (await res.json()) as { tokens?: unknown };
    if (!Array.isArray(body.tokens)) throw new Error(`POST ${url}/tokenize: no tokens array`);
    return body.tokens.length;
  };
  try {
    const n = await count("hello world");
    return n > 0 ? count : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Characters per token measured with one non-streaming completion (max_tokens 1) whose
 * `usage.prompt_tokens` the server reports; undefined when it does not.
 */
export async function calibrateCharsPerToken(url: string, model: string, timeoutMs = 60_000): Promise<number | undefined> {
  // Short texts first-try, so even a server with a small context accepts them (100 words is 150-400 tokens).
  for (const words of [100, 25]) {
    const text = promptWords(0x5eed, 999_999, words).join(" ");
    try {
      const res = await fetch(`${url}/v1/completions`, {
        method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ model, prompt: text, max_tokens: 1, temperature: 0 }), signal: AbortSignal.timeout(timeoutMs),
      });
      if (!res.ok) continue;
      const body = (await res.json()) as { usage?: { prompt_tokens?: number } };
      const n = body.usage?.prompt_tokens;
      if (typeof n === "number" && n > 0) return text.length / n;
    } catch {
      // try the shorter text, then give up
    }
  }
  return undefined;
}

export interface PromptSetOptions {
  count: number;
  seed: number;
  /** Index of the first prompt (default 0). Prompts with different indices never share a first word, so give each set of one run its own index range. */
  firstIndex?: number;
  targetTokens?: number;
  tolerance?: number;
  /** Exact counter (preferred). */
  counter?: TokenCounter;
  /** Used without a counter; default 4 (a typical English BPE ratio). */
  charsPerToken?: number;
}

export interface PromptSet {
  prompts: string[];
  /** "tokenize": sized with exact counts; "estimate": sized by characters. */
  sizing: "tokenize" | "estimate";
  /** Token count per prompt (exact with tokenize, estimated otherwise). */
  tokens: number[];
}

/** Builds `count` distinct prompts of about `targetTokens` tokens (±tolerance when counted exactly). */
export async function buildPrompts(o: PromptSetOptions): Promise<PromptSet> {
  const target = o.targetTokens ?? 300;
  const tolerance = o.tolerance ?? 10;
  const prompts: string[] = [];
  const tokens: number[] = [];
  const cpt = o.charsPerToken ?? 4;
  for (let i = 0; i < o.count; i++) {
    // Plenty of words: English-like words here average ~6 characters with their space.
    const words = promptWords(o.seed, (o.firstIndex ?? 0) + i, Math.ceil((target * Math.max(cpt, 4)) / 3) + 20);
    if (!o.counter) {
      let text = words[0]!;
      for (let w = 1; w < words.length && (text.length + 1 + words[w]!.length) / cpt <= target; w++) text += ` ${words[w]}`;
      prompts.push(text);
      tokens.push(Math.round(text.length / cpt));
      continue;
    }
    // Binary search for the shortest word prefix with at least `target` tokens, then take the closer of it and one word less.
    const count = o.counter;
    const cache = new Map<number, number>();
    const tok = async (n: number) => {
      let v = cache.get(n);
      if (v === undefined) { v = await count(words.slice(0, n).join(" ")); cache.set(n, v); }
      return v;
    };
    let hi = words.length;
    if ((await tok(hi)) < target) throw new Error(`prompt ${i}: ${hi} words give only ${await tok(hi)} tokens`);
    let lo = 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((await tok(mid)) >= target) hi = mid; else lo = mid + 1;
    }
    let n = lo;
    if (n > 1 && Math.abs((await tok(n - 1)) - target) < Math.abs((await tok(n)) - target)) n--;
    const t = await tok(n);
    if (Math.abs(t - target) > tolerance) throw new Error(`prompt ${i}: closest size is ${t} tokens, outside ${target}±${tolerance}`);
    prompts.push(words.slice(0, n).join(" "));
    tokens.push(t);
  }
  return { prompts, sizing: o.counter ? "tokenize" : "estimate", tokens };
}

/** Prompts sized with the server's /tokenize, else with a usage-calibrated chars/token ratio. */
export async function promptSource(url: string, model: string, seed: number, targetTokens: number) {
  const counter = await serverTokenCounter(url);
  const charsPerToken = counter ? undefined : await calibrateCharsPerToken(url, model);
  let nextIndex = 0;
  return {
    sizing: counter ? "tokenize" : charsPerToken ? `estimate (${charsPerToken.toFixed(2)} chars/token from usage)` : "estimate (4 chars/token guess)",
    /** `count` fresh prompts, never sharing a first word with earlier ones. */
    take: async (count: number): Promise<PromptSet> => {
      const set = await buildPrompts({ count, seed, firstIndex: nextIndex, targetTokens, counter, charsPerToken });
      nextIndex += count;
      return set;
    },
  };
}
