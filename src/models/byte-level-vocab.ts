/**
 * A GPT-2 style byte-level BPE vocabulary for generated models: 256 byte tokens,
 * ChatML special tokens, and deterministic merges that fill the vocabulary up to
 * the requested size (so English text costs fewer tokens than bytes, as with real models).
 */
import { Rng } from "./rng.js";

export const SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] as const;

/** llama.cpp token types. */
const NORMAL = 1;
const CONTROL = 3;

export interface ByteLevelVocab {
  tokens: string[];
  tokenTypes: number[];
  merges: string[];
  bosId: number;
  eosId: number;
  eotId: number;
  padId: number;
}

/** GPT-2's reversible map from bytes to printable unicode characters. */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const map: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (printable.includes(b)) map[b] = String.fromCodePoint(b);
    else map[b] = String.fromCodePoint(256 + extra++);
  }
  return map;
}

export const MIN_VOCAB_SIZE = 256 + SPECIAL_TOKENS.length;

export function buildByteLevelVocab(vocabSize: number, seed: number): ByteLevelVocab {
  if (vocabSize < MIN_VOCAB_SIZE) throw new Error(`vocabulary size must be at least ${MIN_VOCAB_SIZE}, got ${vocabSize}`);
  const byteChars = bytesToUnicode();
  const tokens = [...byteChars];
  const tokenTypes = tokens.map(() => NORMAL);
  const merges: string[] = [];
  const known = new Set(tokens);

  // Merges: lower-case letters joined into word pieces, with and without a leading space ("Ġ").
  const letters = "etaoinshrdlcumwfgypbvkjxqz".split("");
  const space = byteChars[0x20]!;
  const pieces: string[] = [];
  const mergesWanted = vocabSize - MIN_VOCAB_SIZE;
  const rng = new Rng(seed ^ 0x5eed);
  const add = (left: string, right: string): void => {
    const joined = left + right;
    if (known.has(joined)) return;
    known.add(joined);
    tokens.push(joined);
    tokenTypes.push(NORMAL);
    merges.push(`${left} ${right}`);
    pieces.push(joined);
  };
  for (const l of letters) if (merges.length < mergesWanted) add(space, l);
  let attempts = 0;
  while (merges.length < mergesWanted) {
    if (++attempts > mergesWanted * 50) throw new Error("could not generate enough merges");
    const usePiece = pieces.length > 0 && rng.next() < 0.7;
    const left = usePiece ? pieces[Math.floor(rng.next() * pieces.length)]! : letters[Math.floor(rng.next() * letters.length)]!;
    if (left.length >= 10) continue;
    const right = letters[Math.floor(rng.next() * 8 + rng.next() * 18)]!;
    add(left, right);
  }

  const firstSpecial = tokens.length;
  for (const s of SPECIAL_TOKENS) { tokens.push(s); tokenTypes.push(CONTROL); }
  return {
    tokens,
    tokenTypes,
    merges,
    bosId: firstSpecial,
    padId: firstSpecial,
    eosId: firstSpecial + 2,
    eotId: firstSpecial + 2,
  };
}

/** ChatML, as Qwen and many others use it. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
