/**
 * TextTokenizer adapters: the embedding model's own tokenizer (a node-llama-cpp LlamaModel, or
 * Nimble's EmbeddingEngine) for the chunker, so chunk sizes are counted in the tokens the
 * embedder will see. No special tokens are added: the embedder adds its BOS/EOS itself.
 */
import type { LlamaModel, Token } from "node-llama-cpp";
import type { TextTokenizer } from "./types.js";

/** A LlamaModel's tokenizer (the model may be loaded with `vocabOnly: true`). */
export function llamaTokenizer(model: Pick<LlamaModel, "tokenize" | "detokenize">): TextTokenizer {
  return {
    encode: (text) => model.tokenize(text, false),
    decode: (tokens) => model.detokenize(tokens as readonly Token[]),
  };
}

/**
 * Caches encodings of recent texts: the chunker counts overlapping spans, and the ingestion
 * pipeline may count a chunk again when it embeds it.
 */
export function cachedTokenizer(inner: TextTokenizer, maxEntries = 256): TextTokenizer {
  const cache = new Map<string, readonly number[]>();
  return {
    encode(text) {
      const hit = cache.get(text);
      if (hit) return hit;
      const tokens = inner.encode(text);
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
      cache.set(text, tokens);
      return tokens;
    },
    decode: (tokens) => inner.decode(tokens),
  };
}
