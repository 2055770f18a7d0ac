/**
 * Optional PII redaction before indexing (a vector store setting): e-mail addresses, phone
 * numbers, payment card numbers, IBANs and US social security numbers are replaced by a
 * placeholder ("[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]", "[SSN]"). Each candidate a pattern finds
 * must also pass a validator: Luhn for cards, ISO 13616 mod-97 and the country's length for IBANs,
 * the SSA's never-issued ranges for SSNs, digit counts (E.164: at most 15) for phones, label rules
 * for e-mail domains. Deliberately small; guardrails (src/guardrails/) has the richer detectors.
 */
import type { ExtractedDocument } from "./types.js";

export type PiiKind = "email" | "phone" | "card" | "iban" | "ssn";
export type PiiCounts = Record<PiiKind, number>;

export const PII_PLACEHOLDERS: Record<PiiKind, string> = { email: "[EMAIL]", phone: "[PHONE]", card: "[CARD]", iban: "[IBAN]", ssn: "[SSN]" };

export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** IBAN lengths by country (ISO 13616 registry, common countries). */
const IBAN_LENGTHS: Record<string, number> = {
  AD: 24, AT: 20, BE: 16, BG: 22, CH: 21, CY: 28, CZ: 24, DE: 22, DK: 18, EE: 20, ES: 24, FI: 18, FR: 27, GB: 22, GR: 27, HR: 21, HU: 28,
  IE: 22, IS: 26, IT: 27, LI: 21, LT: 20, LU: 20, LV: 21, MC: 27, MT: 31, NL: 18, NO: 15, PL: 28, PT: 25, RO: 24, SE: 24, SI: 19, SK: 24,
  SM: 27, TR: 26, AE: 23, SA: 24, IL: 23, BR: 29, QA: 29, UA: 29, KZ: 20, MU: 30, TN: 24, EG: 29, GI: 23, FO: 18, GL: 18, RS: 22, ME: 22,
};

export function ibanValid(raw: string): boolean {
  const iban = raw.replace(/\s+/g, "").toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban)) return false;
  const expected = IBAN_LENGTHS[iban.slice(0, 2)];
  if (expected !== undefined ? iban.length !== expected : iban.length < 15 || iban.length > 34) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let rest = 0;
  for (const c of rearranged) {
    const v = c >= "A" ? c.charCodeAt(0) - 55 : c.charCodeAt(0) - 48;
    rest = v > 9 ? (rest * 100 + v) % 97 : (rest * 10 + v) % 97;
  }
  return rest === 1;
}

/** US SSN: area not 000, 666 or 900–999; group not 00; serial not 0000. */
export function ssnValid(area: string, group: string, serial: string): boolean {
  const a = Number(area);
  return a !== 0 && a !== 666 && a < 900 && group !== "00" && serial !== "0000";
}

export function emailValid(address: string): boolean {
  const at = address.lastIndexOf("@");
  const local = address.slice(0, at);
  const labels = address.slice(at + 1).split(".");
  if (!local || local.length > 64 || local.startsWith(".") || local.endsWith(".") || local.includes("..")) return false;
  return labels.length >= 2 && labels.every((l) => l.length >= 1 && l.length <= 63 && !l.startsWith("-") && !l.endsWith("-")) && /^[a-z]{2,24}$/i.test(labels[labels.length - 1]!);
}

export function phoneValid(candidate: string): boolean {
  const digits = candidate.replace(/\D/g, "");
  if (digits.length < 7 || digits.length > 15 || /^(\d)\1+$/.test(digits)) return false;
  if (/^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$/.test(candidate.trim())) return false; // a date
  if (candidate.trim().startsWith("+")) return digits.length >= 8;
  // Without a country code: a NANP number (area and exchange not starting with 0/1), or a
  // national number written with separators or a parenthesised area code.
  const nanp = /^\(?([2-9]\d{2})\)?[ .-]?([2-9]\d{2})[ .-]?(\d{4})$/.exec(candidate.trim());
  if (nanp) return true;
  return /[ .()-]/.test(candidate) && digits.length >= 9 && /^0/.test(digits);
}

const EMAIL = /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}/g;
const IBAN = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b/g;
const CARD = /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])/g;
const SSN = /(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])/g;
const PHONE = /(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?![\w])/g;

/** Replaces validated personal data with placeholders; counts what was replaced. */
export function redactPersonalData(text: string): { text: string; counts: PiiCounts } {
  const counts: PiiCounts = { email: 0, phone: 0, card: 0, iban: 0, ssn: 0 };
  const replace = (input: string, pattern: RegExp, kind: PiiKind, valid: (match: string, ...groups: string[]) => boolean) =>
    input.replace(pattern, (match: string, ...rest: unknown[]) => {
      const groups = rest.filter((g): g is string => typeof g === "string");
      if (!valid(match, ...groups)) return match;
      counts[kind]++;
      return PII_PLACEHOLDERS[kind];
    });
  let out = replace(text, EMAIL, "email", emailValid);
  out = replace(out, IBAN, "iban", ibanValid);
  out = replace(out, CARD, "card", (m) => {
    const digits = m.replace(/\D/g, "");
    return digits.length >= 13 && digits.length <= 19 && luhnValid(digits) && !/^(\d)\1+$/.test(digits);
  });
  out = replace(out, SSN, "ssn", (_m, a, g, s) => ssnValid(a!, g!, s!));
  out = replace(out, PHONE, "phone", phoneValid);
  return { text: out, counts };
}

/** Redacts every section (and heading) of a document; chunk offsets then refer to the redacted text. */
export function redactDocument(doc: ExtractedDocument): { doc: ExtractedDocument; counts: PiiCounts } {
  const counts: PiiCounts = { email: 0, phone: 0, card: 0, iban: 0, ssn: 0 };
  const add = (c: PiiCounts) => (Object.keys(counts) as PiiKind[]).forEach((k) => (counts[k] += c[k]));
  const sections = doc.sections.map((s) => {
    const r = redactPersonalData(s.text);
    add(r.counts);
    return { ...s, text: r.text, headingPath: s.headingPath.map((h) => redactPersonalData(h).text) };
  });
  return { doc: { ...doc, sections }, counts };
}
