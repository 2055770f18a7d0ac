/** POST /tokenize and /detokenize (vLLM's shapes; llama.cpp's `content` accepted): the served model's tokenizer. */
import type { FastifyInstance } from "fastify";
import { ApiError } from "../errors.js";
import { planTools, renderConversation } from "./tool-calls.js";
import { detokenizeRequestSchema, tokenizeRequestSchema } from "../protocol.js";
import { parseBody, type ServerState } from "../state.js";
import { useChatModel } from "../targets.js";

export function registerTokenizeRoutes(app: FastifyInstance, state: ServerState): void {
  app.post("/tokenize", async (request, reply) => {
    const body = parseBody(tokenizeRequestSchema, request.body);
    const { engine } = await useChatModel(state, reply, body.model);
    const addSpecial = body.add_special_tokens ?? body.add_special ?? true;
    // Messages (and tools) render exactly as /v1/chat/completions renders them.
    const text = body.messages ? renderConversation(engine, body.messages, planTools(engine, body)) : (body.prompt ?? body.content)!;
    const tokens = engine.tokenize(text, addSpecial);
    return { tokens, count: tokens.length, max_model_len: engine.info.contextSize };
  });

  app.post("/detokenize", async (request, reply) => {
    const body = parseBody(detokenizeRequestSchema, request.body);
    const { engine } = await useChatModel(state, reply, body.model);
    const bad = body.tokens.findIndex((t) => t >= engine.info.vocabSize);
    if (bad >= 0) throw ApiError.outsideVocabulary(`tokens.${bad}`, body.tokens[bad]!, engine.info.vocabSize);
    return { prompt: engine.detokenize(body.tokens) };
  });
}
