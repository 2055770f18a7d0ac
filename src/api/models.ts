/** GET /v1/models: the served model (with a plain note when it is the random-weight demo), then any embedding and reranking models. */
import type { FastifyInstance } from "fastify";
import type { ModelInfo } from "../engine/types.js";
import type { ModelCard } from "./protocol.js";
import { requireEngine, type ServerState } from "./state.js";

export const DEMO_NOTE =
  "This is Nimble's built-in demo model: random weights, so its output is gibberish. Serve a real model with `nimble serve --model ./model.gguf` or `--model hf:owner/repo/file.gguf`.";

export function modelCard(info: ModelInfo, created: number): ModelCard {
  return {
    id: info.id,
    object: "model",
    created,
    owned_by: "nimble",
    root: info.id,
    parent: null,
    max_model_len: info.contextSize,
    nimble: { demo: info.isDemo, ...(info.isDemo ? { note: DEMO_NOTE } : {}), parameters: info.parameters, parallel: info.parallel },
  };
}

export function registerModelRoutes(app: FastifyInstance, state: ServerState): void {
  app.get("/v1/models", async () => {
    const engine = requireEngine(state);
    const created = Math.floor(state.startedAt / 1000);
    const data: unknown[] = [modelCard(engine.info, created)];
    const e = state.embedder?.info;
    if (e) data.push({ id: e.id, object: "model", created, owned_by: "nimble", root: e.id, parent: null, max_model_len: e.maxInputTokens, nimble: { kind: "embedding", dimensions: e.dimensions } });
    const r = state.reranker?.info;
    if (r) data.push({ id: r.id, object: "model", created, owned_by: "nimble", root: r.id, parent: null, max_model_len: r.maxInputTokens, nimble: { kind: "reranker" } });
    return { object: "list", data };
  });
}
