/**
 * The served models the RAG layer uses, leased from the model pool like any request does: the
 * embedding model (required), the reranker and the chat model (for rewrite_query), when served.
 */
import type { EmbeddingEngine } from "../engine/embedding-engine.js";
import type { ModelKind, ModelPool, PooledModel } from "../engine/model-pool.js";
import type { RerankEngine } from "../engine/rerank-engine.js";
import type { Engine } from "../engine/types.js";

/** No embedding model is served: vector stores cannot embed anything. */
export class NoEmbeddingModelError extends Error {
  constructor() {
    super("Vector stores need an embedding model: start the server with --embedding-model (or NIMBLE_EMBEDDING_MODEL).");
    this.name = "NoEmbeddingModelError";
  }
}

export interface Leased<M> {
  model: M;
  id: string;
  release(): void;
}

export interface RagModels {
  /** Text put before queries and passages (the embedding model's input_type prefixes). */
  readonly prefixes: { query: string; passage: string };
  hasEmbedding(): boolean;
  /** Throws NoEmbeddingModelError when no embedding model is served. */
  embedding(): Promise<Leased<EmbeddingEngine>>;
  /** undefined when no reranker is served. */
  rerank(): Promise<Leased<RerankEngine> | undefined>;
  /** undefined when no chat model is served. */
  chat(): Promise<Leased<Engine> | undefined>;
}

/** RagModels over a server's model pool: the first configured model of each kind. */
export function poolModels(pool: ModelPool<PooledModel>, prefixes: { query: string; passage: string }): RagModels {
  const first = (kind: ModelKind) => pool.status().find((s) => s.kind === kind)?.id;
  const lease = async <M>(kind: ModelKind): Promise<Leased<M> | undefined> => {
    const id = first(kind);
    if (id === undefined) return undefined;
    const held = await pool.acquire(id);
    return { model: held.model as M, id, release: () => held.release() };
  };
  return {
    prefixes,
    hasEmbedding: () => first("embedding") !== undefined,
    embedding: async () => {
      const held = await lease<EmbeddingEngine>("embedding");
      if (!held) throw new NoEmbeddingModelError();
      return held;
    },
    rerank: () => lease<RerankEngine>("rerank"),
    chat: () => lease<Engine>("chat"),
  };
}

/** RagModels over engines loaded in process (the CLI's benchmarks, tests, library use). */
export function engineModels(engines: { embedding?: EmbeddingEngine; rerank?: RerankEngine; chat?: Engine }, prefixes = { query: "", passage: "" }): RagModels {
  const held = <M>(model: M | undefined, id: string): Leased<M> | undefined => (model ? { model, id, release: () => {} } : undefined);
  return {
    prefixes,
    hasEmbedding: () => engines.embedding !== undefined,
    embedding: async () => {
      const lease = held(engines.embedding, "embedding");
      if (!lease) throw new NoEmbeddingModelError();
      return lease;
    },
    rerank: async () => held(engines.rerank, "rerank"),
    chat: async () => held(engines.chat, "chat"),
  };
}
