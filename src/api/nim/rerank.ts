/**
 * Reranking: NIM's POST /v1/ranking (raw logits) and the Cohere / Jina / llama.cpp / vLLM
 * POST /v1/rerank (also at /rerank and /v2/rerank), whose relevance_score is sigmoid(logit).
 * Both score every query/document pair with the --rerank-model cross-encoder and sort by score.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { PairTooLongError, type RerankEngine, type RerankTruncation } from "../../engine/rerank-engine.js";
import { ApiError } from "../errors.js";
import { newId } from "../generation.js";
import { rankingRequestSchema, rerankRequestSchema, type RankingResponse, type RerankResponse } from "../protocol.js";
import { parseBody, type ServerState } from "../state.js";
import { useRerankModel } from "../targets.js";

/** How a request names its parts, for error messages. */
interface Naming {
  /** The query's parameter (`query.text` or `query`). */
  query: string;
  /** The documents' parameter (`passages` or `documents`). */
  documents: string;
  /** One document, in prose. */
  noun: string;
}

interface Scored {
  /** Document indexes, most relevant first (ties: lower index first). */
  order: number[];
  logits: number[];
  tokens: number;
  model: string;
}

async function score(reranker: RerankEngine, query: string, documents: string[], truncate: RerankTruncation, naming: Naming): Promise<Scored> {
  let result;
  try {
    result = await reranker.rank(reranker.tokenize(query), documents.map((d) => reranker.tokenize(d)), truncate);
  } catch (err) {
    if (!(err instanceof PairTooLongError)) throw err;
    if (err.part === "query") {
      throw ApiError.invalid(
        `The query takes ${err.tokens} tokens with the model's separators, more than the ${err.limit} this model takes with any ${naming.noun}; shorten it.`,
        naming.query,
        "context_length_exceeded",
      );
    }
    throw ApiError.invalid(
      `The query and ${naming.noun} ${err.index} take ${err.tokens} tokens, more than the ${err.limit} this model takes; shorten them or send truncate: "END".`,
      `${naming.documents}.${err.index}`,
      "context_length_exceeded",
    );
  }
  const order = result.logits.map((_, i) => i).sort((a, b) => result.logits[b]! - result.logits[a]! || a - b);
  return { order, logits: result.logits, tokens: result.tokens, model: reranker.info.id };
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export function registerRerankRoutes(app: FastifyInstance, state: ServerState): void {
  app.post("/v1/ranking", async (request, reply): Promise<RankingResponse> => {
    const body = parseBody(rankingRequestSchema, request.body);
    const reranker = await useRerankModel(state, reply, body.model);
    const passages = body.passages.map((p) => p.text);
    const naming = { query: "query.text", documents: "passages", noun: "passage" };
    const { order, logits, tokens } = await score(reranker, body.query.text, passages, body.truncate ?? "NONE", naming);
    request.tokenBudget.reserve(tokens).settle({ prompt: tokens, completion: 0 });
    return {
      rankings: order.map((index) => ({ index, logit: logits[index]! })),
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    };
  });

  const rerank = async (request: FastifyRequest, reply: FastifyReply): Promise<RerankResponse> => {
    const body = parseBody(rerankRequestSchema, request.body);
    const reranker = await useRerankModel(state, reply, body.model);
    const documents = body.documents.map((d) => (typeof d === "string" ? d : d.text));
    const naming = { query: "query", documents: "documents", noun: "document" };
    const { order, logits, tokens, model } = await score(reranker, body.query, documents, body.truncate ?? "NONE", naming);
    request.tokenBudget.reserve(tokens).settle({ prompt: tokens, completion: 0 });
    const top = body.top_n == null ? order : order.slice(0, body.top_n);
    return {
      id: newId("rerank"),
      model,
      results: top.map((index) => ({
        index,
        relevance_score: sigmoid(logits[index]!),
        ...(body.return_documents ? { document: { text: documents[index]! } } : {}),
      })),
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    };
  };
  for (const path of ["/v1/rerank", "/rerank", "/v2/rerank"]) app.post(path, rerank);
}
