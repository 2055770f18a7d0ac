/**
 * Personal-data detectors: email, phone, payment card, IBAN, US SSN, IP address, API keys and
 * secrets, user patterns and deny-lists. Each finds candidates with a cheap scan (no regex with
 * nested quantifiers, so a megabyte of adversarial text stays linear) and keeps only those its
 * validator accepts (Luhn, mod-97, SSN ranges, per-country phone lengths, entropy).
 */
import { cardValid, entropy, ibanValid, internationalPhoneValid, ipValid, nationalPhoneValid, ssnValid } from "./validators.js";
import type { Span } from "./types.js";

export const PII_ENTITIES = ["email", "phone", "card", "iban", "ssn", "ip", "secret"] as const;
export type PiiEntity = (typeof PII_ENTITIES)[number];

/** The placeholder label of each entity ([EMAIL], [PHONE], …). */
export const ENTITY_LABELS: Record<PiiEntity, string> = { email: "EMAIL", phone: "PHONE", card: "CARD", iban: "IBAN", ssn: "SSN", ip: "IP_ADDRESS", secret: "SECRET" };

export interface PiiOptions {
  entities: readonly PiiEntity[];
  /** Regions whose phone formats count (ISO codes of validators.PHONE_COUNTRIES). */
  phoneRegions: readonly string[];
  /** User patterns: name → compiled regex (global flag). */
  patterns: readonly { name: string; regex: RegExp }[];
  /** Terms that must not appear (matched case-insensitively on word boundaries). */
  deny: readonly string[];
  /** Minimum Shannon entropy (bits/char) of an unprefixed secret. */
  secretEntropy: number;
}

type Found = Omit<Span, "item">;

const isWordChar = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isDigit = (c: number) => c >= 48 && c <= 57;

/** Runs a global regex over text, collecting matches (regexes here have no nested quantifiers). */
function each(regex: RegExp, text: string, fn: (m: RegExpExecArray) => void): void {
  regex.lastIndex = 0;
  for (let m = regex.exec(text); m !== null; m = regex.exec(text)) {
    fn(m);
    if (m[0].length === 0) regex.lastIndex++;
  }
}

const EMAIL_LOCAL = /[A-Za-z0-9._%+-]/;
const EMAIL_DOMAIN = /[A-Za-z0-9.-]/;

/** Emails: anchored on each "@", expanded left over local-part characters and right over domain characters. */
function emails(text: string, out: Found[]): void {
  let from = 0;
  let lastEnd = 0;
  for (let at = text.indexOf("@", from); at !== -1; at = text.indexOf("@", from)) {
    from = at + 1;
    let s = at;
    while (s > lastEnd && s > at - 64 && EMAIL_LOCAL.test(text[s - 1]!)) s--;
    let e = at + 1;
    while (e < text.length && e < at + 254 && EMAIL_DOMAIN.test(text[e]!)) e++;
    while (e > at + 1 && (text[e - 1] === "." || text[e - 1] === "-")) e--;
    while (s < at && text[s] === ".") s++;
    if (s === at || e === at + 1) continue;
    const domain = text.slice(at + 1, e);
    const labels = domain.split(".");
    if (labels.length < 2 || labels.some((l) => l.length === 0 || l.length > 63)) continue;
    if (!/^[A-Za-z]{2,24}$/.test(labels[labels.length - 1]!)) continue;
    out.push({ start: s, end: e, label: "email" });
    lastEnd = e;
    from = e;
  }
}

/**
 * Runs of digits joined by single spaces, dashes or dots (and an optional leading "+" or "("):
 * the candidates of cards, phones and SSNs. Linear: each character is visited once.
 */
function digitRuns(text: string): { start: number; end: number; digits: string; plus: boolean; raw: string }[] {
  const runs: { start: number; end: number; digits: string; plus: boolean; raw: string }[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (!isDigit(c)) { i++; continue; }
    if (i > 0 && (isWordChar(text.charCodeAt(i - 1)) && !isDigit(text.charCodeAt(i - 1)))) {
      // Digits glued to letters (an id like "abc123") are not numbers.
      while (i < n && isWordChar(text.charCodeAt(i))) i++;
      continue;
    }
    let start = i;
    let digits = "";
    let end = i;
    while (i < n && digits.length <= 24) {
      const ch = text.charCodeAt(i);
      if (isDigit(ch)) { digits += text[i]; i++; end = i; continue; }
      const next = text.charCodeAt(i + 1);
      // One separator between digits, or ") " / ")" after an area code.
      if ((ch === 32 || ch === 45 || ch === 46 || ch === 41) && i + 1 < n) {
        if (isDigit(next)) { i++; continue; }
        if (ch === 41 && next === 32 && isDigit(text.charCodeAt(i + 2))) { i += 2; continue; }
        if ((ch === 32 || ch === 45) && next === 40 && isDigit(text.charCodeAt(i + 2))) { i += 2; continue; }
      }
      break;
    }
    if (i < n && isWordChar(text.charCodeAt(i)) && !isDigit(text.charCodeAt(i))) {
      while (i < n && isWordChar(text.charCodeAt(i))) i++;
      continue;
    }
    if (digits.length > 24) {
      while (i < n && (isDigit(text.charCodeAt(i)) || text[i] === " " || text[i] === "-" || text[i] === ".")) i++;
      continue;
    }
    let plus = false;
    if (start > 0 && text[start - 1] === "(") start--;
    if (start > 0 && text[start - 1] === "+") { plus = true; start--; }
    runs.push({ start, end, digits, plus, raw: text.slice(start, end) });
  }
  return runs;
}

/** How cards are written: contiguous, or in groups 4-4-4-4(-3), 4-6-5 (Amex), 4-6-4 (Diners). */
function cardGrouping(raw: string): boolean {
  const groups = raw.split(/[ -]/).map((g) => g.length).join("-");
  return !raw.includes(".") && (!/[ -]/.test(raw) || ["4-4-4-4", "4-4-4-4-3", "4-6-5", "4-6-4"].includes(groups));
}

/** The country and check digits of an IBAN right before a number: the number is the rest of an IBAN. */
const IBAN_PREFIX = /[A-Z]{2}\d{2}[ ]?$/;

const SSN_CONTEXT = /\b(?:ssn|social security|sozialversicherung)\b/i;

function numbers(text: string, entities: ReadonlySet<PiiEntity>, regions: readonly string[], out: Found[]): void {
  for (const run of digitRuns(text)) {
    const { digits, raw } = run;
    if (entities.has("card") && digits.length >= 13 && digits.length <= 19 && !run.plus && cardGrouping(raw) && !IBAN_PREFIX.test(text.slice(Math.max(0, run.start - 5), run.start)) && cardValid(digits)) {
      out.push({ start: run.start, end: run.end, label: "card" });
      continue;
    }
    if (entities.has("ssn") && digits.length === 9 && !run.plus) {
      const delimited = /^\d{3}([- ])\d{2}\1\d{4}$/.test(raw);
      const bare = /^\d{9}$/.test(raw) && SSN_CONTEXT.test(text.slice(Math.max(0, run.start - 40), run.start));
      if ((delimited || bare) && ssnValid(digits)) {
        out.push({ start: run.start, end: run.end, label: "ssn" });
        continue;
      }
    }
    if (entities.has("phone") && !/^\d{3}[- ]\d{2}[- ]\d{4}$/.test(raw) && digits.length >= 7 && digits.length <= 15 && !/^\d{4}-\d{2}-\d{2}$/.test(raw) && !/^\d+\.\d+\.\d+\.\d+$/.test(raw)) {
      const ok = run.plus ? internationalPhoneValid(digits, regions) : (raw !== digits || digits.length >= 10) && nationalPhoneValid(digits, regions);
      if (ok) out.push({ start: run.start, end: run.end, label: "phone" });
    }
  }
}

/** IBANs: two letters, two digits, then 11–30 letters/digits in groups (spaces allowed), mod-97 checked. */
const IBAN = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b/g;

function ibans(text: string, out: Found[]): void {
  each(IBAN, text.length > 0 && /[A-Z]{2}\d{2}/.test(text) ? text : "", (m) => {
    // Try the longest compact form first, then shorter prefixes (a word may follow the IBAN).
    const raw = m[0];
    for (let end = raw.length; end >= 15; end--) {
      if (raw[end - 1] === " ") continue;
      if (ibanValid(raw.slice(0, end).replace(/ /g, ""))) {
        out.push({ start: m.index, end: m.index + end, label: "iban" });
        break;
      }
    }
  });
}

const IPV4 = /(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)/g;
const IPV6 = /(?<![0-9A-Za-z:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z:])/g;

function ips(text: string, out: Found[]): void {
  each(IPV4, text, (m) => { if (ipValid(m[0])) out.push({ start: m.index, end: m.index + m[0].length, label: "ip" }); });
  if (text.includes(":")) {
    each(IPV6, text, (m) => {
      const v = m[0];
      if ((v.includes("::") || v.split(":").length === 8) && /[0-9A-Fa-f]/.test(v) && v.length >= 3 && ipValid(v)) out.push({ start: m.index, end: m.index + v.length, label: "ip" });
    });
  }
}

/** Well-known secret formats (prefix + shape). */
const SECRET_PATTERNS: readonly RegExp[] = [
  /\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,200}/g, // OpenAI / Anthropic
  /\bgh[pousr]_[A-Za-z0-9]{36,255}\b/g, // GitHub tokens
  /\bgithub_pat_[A-Za-z0-9_]{22,255}\b/g,
  /\bglpat-[A-Za-z0-9_-]{20,64}\b/g, // GitLab
  /\bxox[abprs]-[A-Za-z0-9-]{10,200}\b/g, // Slack
  /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, // AWS access key id
  /\bAIza[0-9A-Za-z_-]{35}\b/g, // Google API key
  /\b[rs]k_(?:live|test)_[0-9A-Za-z]{16,128}\b/g, // Stripe
  /\bhf_[A-Za-z0-9]{30,64}\b/g, // Hugging Face
  /\bnmb-[A-Za-z0-9_-]{40,50}/g, // Nimble's own keys
  /\beyJ[A-Za-z0-9_-]{8,2000}\.eyJ[A-Za-z0-9_-]{8,4000}\.[A-Za-z0-9_-]{8,2000}/g, // JWT
  /-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY(?: BLOCK)?-----/g,
];
const TOKEN_LIKE = /[A-Za-z0-9+/_=-]{24,200}/g;
const SECRET_CONTEXT = /(?:key|token|secret|passw(?:or)?d|pwd|credential|bearer|auth)/i;
/** A name and "=" at the start of a token ("password=…", "DB_PASSWORD=…", "api_key=…"): "=" is a token character, so the name is inside the match. */
const ASSIGNMENT = /^[A-Za-z0-9_-]{1,40}=/;

function secrets(text: string, minEntropy: number, out: Found[]): void {
  const before = out.length;
  for (const re of SECRET_PATTERNS) each(re, text, (m) => out.push({ start: m.index, end: m.index + m[0].length, label: "secret" }));
  // Unprefixed: a long token with letters and digits, high entropy, and a credential word near it.
  each(TOKEN_LIKE, text, (m) => {
    let start = m.index;
    let v = m[0];
    // A credential name assigned to the token is its context, not part of it: the value is the candidate.
    const name = ASSIGNMENT.exec(v)?.[0];
    if (name !== undefined && SECRET_CONTEXT.test(name)) {
      start += name.length;
      v = v.slice(name.length);
      if (v.length < 24) return;
    }
    if (!/[a-z]/.test(v) || !/[A-Z]/.test(v) || !/\d/.test(v)) return;
    if (out.slice(before).some((f) => f.start <= start && f.end >= start + v.length)) return;
    if (entropy(v) < minEntropy) return;
    if (!SECRET_CONTEXT.test(text.slice(Math.max(0, start - 40), start))) return;
    out.push({ start, end: start + v.length, label: "secret" });
  });
}

/** Case-insensitive whole-word occurrences of each term. */
export function findTerms(text: string, terms: readonly string[], label: string, out: Found[]): void {
  if (terms.length === 0) return;
  const lower = text.toLowerCase();
  for (const term of terms) {
    const t = term.toLowerCase();
    if (t.length === 0) continue;
    for (let i = lower.indexOf(t); i !== -1; i = lower.indexOf(t, i + 1)) {
      const before = i > 0 ? lower.charCodeAt(i - 1) : 32;
      const after = i + t.length < lower.length ? lower.charCodeAt(i + t.length) : 32;
      if ((isWordChar(t.charCodeAt(0)) && isWordChar(before)) || (isWordChar(t.charCodeAt(t.length - 1)) && isWordChar(after))) continue;
      out.push({ start: i, end: i + t.length, label });
    }
  }
}

/** Every personal-data span in a text, earliest first, overlaps resolved in favour of the longer span. */
export function detectPii(text: string, options: PiiOptions): Found[] {
  const entities = new Set(options.entities);
  const out: Found[] = [];
  if (entities.has("email")) emails(text, out);
  if (entities.has("secret")) secrets(text, options.secretEntropy, out);
  if (entities.has("iban")) ibans(text, out);
  if (entities.has("ip")) ips(text, out);
  if (entities.has("card") || entities.has("phone") || entities.has("ssn")) numbers(text, entities, options.phoneRegions, out);
  for (const p of options.patterns) each(p.regex, text, (m) => { if (m[0].length > 0) out.push({ start: m.index, end: m.index + m[0].length, label: p.name }); });
  findTerms(text, options.deny, "deny_list", out);
  return resolveOverlaps(out);
}

/** Keeps non-overlapping spans: the earliest, and of those starting together the longest. */
export function resolveOverlaps<T extends { start: number; end: number }>(spans: T[]): T[] {
  spans.sort((a, b) => a.start - b.start || b.end - a.end);
  const kept: T[] = [];
  let end = -1;
  for (const s of spans) {
    if (s.start >= end) { kept.push(s); end = s.end; }
  }
  return kept;
}
