/**
 * Document extraction (entry point kept at this path for importers): file bytes to text sections.
 * The implementation lives in ./extract/ (one module per format).
 */
export { decodeText, DEFAULT_EXTRACT_LIMITS, detectFormat, extractDocument, type DocumentFormat, type ExtractLimits } from "./extract/index.js";
export { normalizeText } from "./extract/normalize.js";
export { ExtractError } from "./types.js";
