/**
 * Checksum and range validators behind the personal-data detectors (as Presidio does): a match
 * that fails its validator is not personal data. Pure functions, linear in their input.
 */
import { isIPv4, isIPv6 } from "node:net";

/** Luhn's mod-10 check over a string of digits (payment cards). */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** Card numbers: 13–19 digits, a known issuer prefix, and Luhn. */
export function cardValid(digits: string): boolean {
  if (digits.length < 13 || digits.length > 19) return false;
  if (!/^(?:4|5[1-5]|2[2-7]|3[47]|3[068]|6(?:011|5|4[4-9]|22)|35|62|81)/.test(digits)) return false;
  if (/^(\d)\1+$/.test(digits)) return false;
  return luhnValid(digits);
}

/** IBAN lengths per country (ISO 13616 registry, the common ones). */
export const IBAN_LENGTHS: Record<string, number> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BR: 29, CH: 21, CR: 22, CY: 28, CZ: 24,
  DE: 22, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27,
  GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LI: 21, LT: 20,
  LU: 20, LV: 21, MC: 27, MD: 24, ME: 22, MK: 19, MR: 27, MT: 31, MU: 30, NL: 18, NO: 15, PK: 24, PL: 28, PS: 29,
  PT: 25, QA: 29, RO: 24, RS: 22, SA: 24, SE: 24, SI: 19, SK: 24, SM: 27, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20,
};

/** IBAN: the country's length and the ISO 7064 mod-97 check (remainder 1). */
export function ibanValid(compact: string): boolean {
  const iban = compact.toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban)) return false;
  if (IBAN_LENGTHS[iban.slice(0, 2)] !== iban.length) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const ch of rearranged) {
    const code = ch.charCodeAt(0);
    const value = code >= 65 ? String(code - 55) : ch;
    for (const d of value) remainder = (remainder * 10 + (d.charCodeAt(0) - 48)) % 97;
  }
  return remainder === 1;
}

/**
 * US Social Security numbers: area 001–665, 667–899 (not 000, 666, 9xx), group not 00, serial not
 * 0000, not all one digit, and not the numbers known from advertising (078-05-1120, 123-45-6789).
 */
export function ssnValid(digits: string): boolean {
  if (!/^\d{9}$/.test(digits)) return false;
  const area = Number(digits.slice(0, 3));
  const group = digits.slice(3, 5);
  const serial = digits.slice(5);
  if (area === 0 || area === 666 || area >= 900) return false;
  if (group === "00" || serial === "0000") return false;
  if (/^(\d)\1{8}$/.test(digits)) return false;
  if (digits === "078051120" || digits === "123456789" || digits === "219099999") return false;
  return true;
}

/** Phone number lengths (national significant number, digits) per calling code. */
export const PHONE_COUNTRIES: Record<string, { code: string; lengths: number[] }> = {
  US: { code: "1", lengths: [10] },
  CA: { code: "1", lengths: [10] },
  GB: { code: "44", lengths: [10] },
  DE: { code: "49", lengths: [7, 8, 9, 10, 11] },
  FR: { code: "33", lengths: [9] },
  ES: { code: "34", lengths: [9] },
  IT: { code: "39", lengths: [9, 10, 11] },
  NL: { code: "31", lengths: [9] },
  IN: { code: "91", lengths: [10] },
  BR: { code: "55", lengths: [10, 11] },
  AU: { code: "61", lengths: [9] },
  JP: { code: "81", lengths: [9, 10] },
  IL: { code: "972", lengths: [8, 9] },
  CH: { code: "41", lengths: [9] },
  SE: { code: "46", lengths: [7, 8, 9] },
  PL: { code: "48", lengths: [9] },
};

/** An international number (+CC...): a configured region's calling code followed by a length it allows. */
export function internationalPhoneValid(digits: string, regions: readonly string[]): boolean {
  for (const region of regions) {
    const c = PHONE_COUNTRIES[region];
    if (!c || !digits.startsWith(c.code)) continue;
    let rest = digits.slice(c.code.length);
    // A trunk "0" written after the country code, as in +44 (0)20 …
    if (c.code !== "1" && rest.startsWith("0") && c.lengths.includes(rest.length - 1)) rest = rest.slice(1);
    if (!c.lengths.includes(rest.length)) continue;
    if (c.code === "1" && !/^[2-9]\d{2}[2-9]/.test(rest)) continue;
    return true;
  }
  return false;
}

/** A national number as written in one of the regions (North American, or a trunk-0 format). */
export function nationalPhoneValid(digits: string, regions: readonly string[]): boolean {
  for (const region of regions) {
    const c = PHONE_COUNTRIES[region];
    if (!c) continue;
    if (c.code === "1") {
      const d = digits.length === 11 && digits.startsWith("1") ? digits.slice(1) : digits;
      if (d.length === 10 && /^[2-9]\d{2}[2-9]\d{6}$/.test(d) && !/^(\d)\1+$/.test(d)) return true;
    } else if (digits.startsWith("0") && c.lengths.includes(digits.length - 1) && digits[1] !== "0") {
      return true;
    }
  }
  return false;
}

export function ipValid(text: string): boolean {
  return isIPv4(text) || isIPv6(text);
}

/** Shannon entropy of a string in bits per character (per code point: an emoji is one character, not two UTF-16 units). */
export function entropy(text: string): number {
  const counts = new Map<string, number>();
  let length = 0;
  for (const ch of text) {
    counts.set(ch, (counts.get(ch) ?? 0) + 1);
    length++;
  }
  let h = 0;
  for (const n of counts.values()) {
    const p = n / length;
    h -= p * Math.log2(p);
  }
  return h;
}
