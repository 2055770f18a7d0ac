/**
 * Text normalisation for extracted documents: Unicode NFKC, control and invisible characters
 * removed, line endings unified, runs of spaces collapsed, at most one blank line between paragraphs.
 * Every extractor passes its text through here, so the chunker and the index see one canonical form.
 */

// C0/C1 controls except tab and newline; zero-width and bidi controls (Trojan Source); BOM; soft hyphen.
const INVISIBLE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u00AD\u200B-\u200D\u2060-\u2064\u202A-\u202E\u2066-\u2069\uFEFF\uFFF9-\uFFFB]/g;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Normalises one block of text (a section's body). Keeps single newlines, collapses blank lines to one. */
export function normalizeText(input: string): string {
  let text = input.replace(LONE_SURROGATE, "\uFFFD").normalize("NFKC");
  text = text.replace(/\r\n?|[\u2028\u2029\u0085]/g, "\n").replace(INVISIBLE, "");
  // NFKC already maps NBSP and the other space variants to U+0020; tabs become spaces too.
  text = text.replace(/[\t\v\f ]+/g, " ").replace(/ *\n */g, "\n").replace(/\n{3,}/g, "\n\n");
  return text.trim();
}

/** Normalises a single line (a heading, a table cell): no newlines at all. */
export function normalizeLine(input: string): string {
  return normalizeText(input).replace(/\s+/g, " ");
}

/**
 * Joins words a PDF hyphenated at a line end ("docu-\nment" → "document"): only when a letter
 * precedes the hyphen and a lower-case letter follows, so "T-\nShirt" and list dashes stay.
 */
export function joinHyphenatedLineBreaks(text: string): string {
  return text.replace(/(\p{L})[-\u2010]\n(\p{Ll})/gu, "$1$2");
}
