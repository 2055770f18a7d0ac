/**
 * The retrieval rail: retrieved chunks are checked (injection, personal data, banned terms) before
 * they reach a prompt. A chunk a blocking rail fires on is withheld; a masking rail's spans are
 * masked in the chunk's text. This is the indirect prompt-injection defence for RAG.
 */
import type { RetrievedChunk, RetrievedChunkFilter } from "../rag/types.js";
import type { CompiledConfig, GuardSession, Guardrails } from "./guardrails.js";
import type { RailModels } from "./types.js";

const NO_MODELS: RailModels = {
  chat: async () => { throw new Error("retrieval rails use no model"); },
  embedding: async () => { throw new Error("retrieval rails use no model"); },
};

/** A filter running a session's retrieval rails (what fired is recorded in the session's guardrails_data). */
export function sessionChunkFilter(session: GuardSession): RetrievedChunkFilter {
  return async (chunks) => {
    if (!session.hasRails("retrieval")) return { chunks: [...chunks], withheld: 0, masked: 0 };
    const checks = await Promise.all(chunks.map((c) => session.checkRetrieved(c.chunk.text)));
    const kept: RetrievedChunk[] = [];
    let withheld = 0;
    let masked = 0;
    chunks.forEach((c, i) => {
      const check = checks[i]!;
      if (check.blocked) { withheld++; return; }
      const text = check.texts[0]!.text;
      if (text !== c.chunk.text) {
        masked++;
        kept.push({ ...c, chunk: { ...c.chunk, text } });
      } else {
        kept.push(c);
      }
    });
    return { chunks: kept, withheld, masked };
  };
}

/**
 * The retrieval rail of a configuration as a RetrievedChunkFilter (what grounded chat and
 * file_search call): `configId` undefined means the server's default configuration; with no
 * configuration at all the filter passes every chunk.
 */
export function createRetrievalFilter(guardrails: Guardrails, configId?: string, models: RailModels = NO_MODELS): RetrievedChunkFilter {
  const compiled: CompiledConfig | undefined = guardrails.resolve(configId);
  if (!compiled) return async (chunks) => ({ chunks: [...chunks], withheld: 0, masked: 0 });
  return async (chunks) => sessionChunkFilter(guardrails.session(compiled, models))(chunks);
}
