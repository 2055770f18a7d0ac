/** POST /v1/embeddings: OpenAI's request and response, with NIM's input_type and truncate. */
import type { FastifyInstance } from "fastify";
import { normalize } from "../../engine/embedding-engine.js";
import { ApiError } from "../errors.js";
import { checkPromptLength } from "../security/limits.js";
import { embeddingsRequestSchema } from "../protocol.js";
import { parseBody, type ServerState } from "../state.js";
import { useEmbeddingModel } from "../targets.js";

export function registerEmbeddingRoutes(app: FastifyInstance, state: ServerState): void {
  app.post("/v1/embeddings", async (request, reply) => {
    const body = parseBody(embeddingsRequestSchema, request.body);
    const { embedder } = await useEmbeddingModel(state, reply, body.model, body.keep_alive);
    const { info } = embedder;
    if (body.dimensions != null && body.dimensions > info.dimensions) {
      throw ApiError.invalid(`Invalid value for 'dimensions': ${body.dimensions} is more than the model's ${info.dimensions}`, "dimensions");
    }
    const input = body.input;
    const texts: (string | number[])[] =
      typeof input === "string" ? [input] : typeof input[0] === "number" ? [input as number[]] : (input as (string | number[])[]);
    const prefix = body.input_type ? state.embeddingPrefixes[body.input_type] : "";
    const truncate = body.truncate ?? "NONE";
    const max = info.maxInputTokens;
    const tokenized = texts.map((t, i) => {
      const param = texts.length > 1 ? `input.${i}` : "input";
      let tokens = typeof t === "string" ? embedder.tokenize(prefix + t) : t;
      const bad = tokens.find((id) => id >= info.vocabSize);
      if (bad !== undefined) throw ApiError.outsideVocabulary(param, bad, info.vocabSize);
      if (tokens.length === 0) throw ApiError.invalid(`Invalid value for '${param}': the input is empty`, param);
      if (tokens.length > max) {
        if (truncate === "NONE") {
          throw ApiError.invalid(`Input ${texts.length > 1 ? `${i} ` : ""}has ${tokens.length} tokens, more than the ${max} this model takes; shorten it or send truncate: "END" or "START".`, param, "context_length_exceeded");
        }
        tokens = truncate === "END" ? tokens.slice(0, max) : tokens.slice(tokens.length - max);
      }
      checkPromptLength(state.limits, tokens.length, param);
      return tokens;
    });
    const promptTokens = tokenized.reduce((n, t) => n + t.length, 0);
    request.tokenBudget.reserve(promptTokens).settle({ prompt: promptTokens, completion: 0 });
    const vectors = await embedder.embed(tokenized);
    return {
      object: "list",
      data: vectors.map((v, index) => {
        const vector = body.dimensions != null ? normalize(v.slice(0, body.dimensions)) : v;
        const embedding = body.encoding_format === "base64" ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString("base64") : Array.from(vector);
        return { object: "embedding", index, embedding };
      }),
      model: info.id,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    };
  });
}
