/** POST /tokenize and /detokenize (vLLM's shapes; llama.cpp's `content` accepted): the served model's tokenizer. */
import type { FastifyInstance } from "fastify";
import { ApiError } from "./errors.js";
import { planTools, renderConversation } from "./tool-calls.js";
import { resolveModel } from "./generation.js";
import { detokenizeRequestSchema, tokenizeRequestSchema } from "./protocol.js";
import { parseBody, requireEngine, type ServerState } from "./state.js";

export function registerTokenizeRoutes(app: FastifyInstance, state: ServerState): void {
  app.post("/tokenize", async (request) => {
    const engine = requireEngine(state);
    const body = parseBody(tokenizeRequestSchema, request.body);
    await resolveModel(state, engine, body.model);
    const addSpecial = body.add_special_tokens ?? body.add_special ?? true;
    // Messages (and tools) render exactly as /v1/chat/completions renders them.
    const text = body.messages ? renderConversation(engine, body.messages, planTools(engine, body)) : (body.prompt ?? body.content)!;
    const tokens = engine.tokenize(text, addSpecial);
    return { tokens, count: tokens.length, max_model_len: engine.info.contextSize };
  });

  app.post("/detokenize", async (request) => {
    const engine = requireEngine(state);
    const body = parseBody(detokenizeRequestSchema, request.body);
    await resolveModel(state, engine, body.model);
    const bad = body.tokens.findIndex((t) => t >= engine.info.vocabSize);
    if (bad >= 0) throw ApiError.outsideVocabulary(`tokens.${bad}`, body.tokens[bad]!, engine.info.vocabSize);
    return { prompt: engine.detokenize(body.tokens) };
  });
}
