/** The llama-server workaround (a logit_bias banning byte tokens 0x80-0xFF for byte-level vocabularies) lives in src/bench/quirks.ts. */
export { llamaInvalidUtf8Ban } from "../src/bench/quirks.js";
