/**
 * Hybrid retrieval over vector stores: BM25 and dense (cosine) lists fused with weighted
 * reciprocal rank fusion (k = 60), then, when a reranker is served and the ranker is not "none",
 * the best 100 candidates reranked by the cross-encoder.
 *
 * Scores, in [0, 1] and comparable across queries:
 * - fused (no reranker): Σ w_list / (60 + rank) over the lists a chunk is in, divided by the most
 *   a chunk can get (first in every list). 1 = first in every list; 0.5 = first in one of two
 *   equally weighted lists and absent from the other.
 * - reranked: sigmoid of the reranker's relevance logit (the /v1/rerank relevance_score).
 * score_threshold applies to the score returned.
 */
import { sigmoidScore } from "./score.js";
import type { ChunkIndex, IndexHit } from "./index/types.js";
import type { RagModels } from "./models.js";
import type { StoreFileRecord } from "./records.js";
import type { RetrievalOptions, RetrievalResult, RetrievedChunk, Retriever, SearchFilter } from "./types.js";

export const RRF_K = 60;
/** Candidates taken from each list, and reranked. */
export const CANDIDATES = 100;

export interface RetrieverDeps {
  index: ChunkIndex;
  models: RagModels;
  /** The files of a store that searches may return (completed ones passing the filter), with their attributes. */
  searchableFiles(storeId: string, filter?: SearchFilter): Promise<StoreFileRecord[]>;
  /** Marks the store as used (for expires_after's last_active_at). */
  touch?(storeId: string): Promise<void>;
}

export interface StageTimings {
  embedMs: number;
  searchMs: number;
  rerankMs: number;
}

interface Candidate {
  storeId: string;
  hit: IndexHit;
  fused: number;
  score: number;
}

/** The prompt asking the chat model for a search query. */
const REWRITE_SYSTEM = "Rewrite the user's question as a short keyword search query. Answer with the query only, on one line.";

export class HybridRetriever implements Retriever {
  /** Time spent in each stage by the last search (bench/rag.ts). */
  lastTimings: StageTimings = { embedMs: 0, searchMs: 0, rerankMs: 0 };

  constructor(private readonly deps: RetrieverDeps) {}

  async search(vectorStoreIds: readonly string[], query: string | readonly string[], options: RetrievalOptions = {}): Promise<RetrievalResult> {
    const timings: StageTimings = { embedMs: 0, searchMs: 0, rerankMs: 0 };
    let queries = (typeof query === "string" ? [query] : [...query]).filter((q) => q.trim().length > 0);
    const maxResults = options.maxResults ?? 10;
    const textWeight = options.hybrid?.textWeight ?? 1;
    const embeddingWeight = options.hybrid?.embeddingWeight ?? 1;
    if (options.rewriteQuery) queries = await Promise.all(queries.map((q) => this.rewrite(q, options.signal)));

    // Embed the queries (cut to the embedding model's input size: the result says so).
    let truncated = false;
    let vectors: (Float32Array | undefined)[] = queries.map(() => undefined);
    let t = performance.now();
    const lease = await this.deps.models.embedding();
    try {
      const engine = lease.model;
      const prefix = this.deps.models.prefixes.query;
      const room = engine.info.maxInputTokens - (prefix ? engine.tokenize(prefix).length : 0) - 2;
      queries = queries.map((q) => {
        const tokens = engine.tokenize(q);
        if (tokens.length <= room) return q;
        truncated = true;
        return engine.detokenize(tokens.slice(0, Math.max(1, room)));
      });
      if (embeddingWeight > 0 && queries.length > 0) vectors = await engine.embed(queries.map((q) => engine.tokenize(prefix + q)));
    } finally {
      lease.release();
    }
    timings.embedMs = performance.now() - t;
    t = performance.now();

    const candidates: Candidate[] = [];
    const files = new Map<string, Map<string, StoreFileRecord>>();
    const lists = (textWeight > 0 ? 1 : 0) + (embeddingWeight > 0 ? 1 : 0);
    const best = (queries.length * (textWeight + embeddingWeight)) / (RRF_K + 1);
    await Promise.all(
      vectorStoreIds.map(async (storeId) => {
        const searchable = await this.deps.searchableFiles(storeId, options.filters);
        const allowed = new Map(searchable.map((f) => [f.id, f]));
        files.set(storeId, allowed);
        if (allowed.size === 0 || lists === 0) return;
        // Restrict the index to the allowed files only when some chunks there are not (filters, files being ingested).
        const total = await this.deps.index.count(storeId);
        const chunksAllowed = [...allowed.values()].reduce((n, f) => n + f.chunks, 0);
        const restrict = chunksAllowed < total ? [...allowed.keys()] : undefined;
        const fused = new Map<string, Candidate>();
        const add = (hits: IndexHit[], weight: number) =>
          hits.filter((h) => allowed.has(h.chunk.fileId)).forEach((hit, rank) => {
            const c = fused.get(hit.chunk.id) ?? { storeId, hit, fused: 0, score: 0 };
            c.fused += weight / (RRF_K + rank + 1);
            fused.set(hit.chunk.id, c);
          });
        await Promise.all(
          queries.map(async (q, i) => {
            const [text, dense] = await Promise.all([
              textWeight > 0 ? this.deps.index.searchText(storeId, q, CANDIDATES, restrict) : [],
              embeddingWeight > 0 && vectors[i] ? this.deps.index.searchVector(storeId, vectors[i]!, CANDIDATES, restrict) : [],
            ]);
            add(text, textWeight);
            add(dense, embeddingWeight);
          }),
        );
        for (const c of fused.values()) candidates.push({ ...c, score: best > 0 ? Math.min(1, c.fused / best) : 0 });
        void this.deps.touch?.(storeId);
      }),
    );
    candidates.sort((a, b) => b.fused - a.fused || a.hit.chunk.id.localeCompare(b.hit.chunk.id));
    let ranked = candidates.slice(0, CANDIDATES);
    timings.searchMs = performance.now() - t;
    t = performance.now();

    if (options.ranker !== "none" && ranked.length > 0) {
      const reranker = await this.deps.models.rerank();
      if (reranker) {
        try {
          const engine = reranker.model;
          const q = engine.tokenize(queries.join(" "));
          const room = Math.max(1, Math.floor(engine.info.maxInputTokens / 2));
          const { logits } = await engine.rank(q.slice(0, room), ranked.map((c) => engine.tokenize(c.hit.chunk.text)), "END");
          ranked.forEach((c, i) => (c.score = sigmoidScore(logits[i]!)));
          ranked = [...ranked].sort((a, b) => b.score - a.score || b.fused - a.fused);
        } finally {
          reranker.release();
        }
      }
    }
    timings.rerankMs = performance.now() - t;
    this.lastTimings = timings;

    const threshold = options.scoreThreshold ?? 0;
    const results: RetrievedChunk[] = ranked
      .filter((c) => c.score >= threshold)
      .slice(0, maxResults)
      .map((c) => {
        const file = files.get(c.storeId)!.get(c.hit.chunk.fileId)!;
        const { chunk } = c.hit;
        return {
          vectorStoreId: c.storeId,
          fileId: chunk.fileId,
          filename: file.filename,
          attributes: file.attributes,
          score: c.score,
          chunk: {
            index: chunk.chunkIndex,
            text: chunk.text,
            tokens: chunk.tokens,
            ...(chunk.page > 0 ? { page: chunk.page } : {}),
            headingPath: chunk.headingPath,
            charStart: chunk.charStart,
            charEnd: chunk.charEnd,
          },
        };
      });
    return { searchQuery: queries.join(" "), truncated, results };
  }

  /** A short greedy generation of the chat model; the query itself when none is served or it says nothing usable. */
  private async rewrite(query: string, signal?: AbortSignal): Promise<string> {
    const chat = await this.deps.models.chat();
    if (!chat) return query;
    try {
      const engine = chat.model;
      const prompt = engine.applyChatTemplate([{ role: "system", content: REWRITE_SYSTEM }, { role: "user", content: query }]);
      const stream = engine.generate({
        promptTokens: engine.tokenize(prompt),
        sampling: { temperature: 0, topP: 1, topK: -1, minP: 0, seed: 0, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0 },
        maxTokens: 32,
        minTokens: 0,
        ignoreEos: false,
        stop: ["\n"],
        ...(signal ? { signal } : {}),
      });
      const text = (await stream.result).text.replace(/[\u0000-\u001f\ufffd]/g, " ").trim();
      return text.length > 0 ? text : query;
    } catch {
      return query;
    } finally {
      chat.release();
    }
  }
}
