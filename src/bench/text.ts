/**
 * Deterministic benchmark text: English-like lowercase words from a seeded PRNG, each text starting
 * with a word unique to its index (so servers cannot reuse a cached prefix across requests), sized to
 * a target token count with an exact counter (binary search over word prefixes) or a chars/token ratio.
 */
import type { TokenCounter } from "./tokenize.js";

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

export interface SizedText {
  text: string;
  /** Exact with a counter, estimated otherwise. */
  tokens: number;
}

/**
 * The text of index `index` under `seed`, about `targetTokens` long: with a counter, the word prefix whose
 * count is closest to the target (error if outside ±tolerance); without one, cut at `charsPerToken`.
 */
export async function sizedText(seed: number, index: number, targetTokens: number, counter?: TokenCounter, charsPerToken = 4, tolerance = 10): Promise<SizedText> {
  // Plenty of words: English-like words here average ~6 characters with their space.
  const words = promptWords(seed, index, Math.ceil((targetTokens * Math.max(charsPerToken, 4)) / 3) + 20);
  if (!counter) {
    let text = words[0]!;
    for (let w = 1; w < words.length && (text.length + 1 + words[w]!.length) / charsPerToken <= targetTokens; w++) text += ` ${words[w]}`;
    return { text, tokens: Math.round(text.length / charsPerToken) };
  }
  const cache = new Map<number, number>();
  const tok = async (n: number) => {
    let v = cache.get(n);
    if (v === undefined) { v = await counter(words.slice(0, n).join(" ")); cache.set(n, v); }
    return v;
  };
  // Binary search for the shortest word prefix with at least `target` tokens, then take the closer of it and one word less.
  let hi = words.length;
  if ((await tok(hi)) < targetTokens) throw new Error(`text ${index}: ${hi} words give only ${await tok(hi)} tokens`);
  let lo = 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((await tok(mid)) >= targetTokens) hi = mid; else lo = mid + 1;
  }
  let n = lo;
  if (n > 1 && Math.abs((await tok(n - 1)) - targetTokens) < Math.abs((await tok(n)) - targetTokens)) n--;
  const t = await tok(n);
  if (Math.abs(t - targetTokens) > tolerance) throw new Error(`text ${index}: closest size is ${t} tokens, outside ${targetTokens}±${tolerance}`);
  return { text: words.slice(0, n).join(" "), tokens: t };
}
