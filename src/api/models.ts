/** GET /v1/models: the served model, with a plain note when it is the random-weight demo. */
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
    // LoRA adapters, as vLLM lists them: root is the adapter file, parent the base model.
    for (const a of (await state.adapters?.list()) ?? []) {
      if (a.name !== engine.info.id) data.push({ ...modelCard(engine.info, Math.floor(a.modifiedMs / 1000)), id: a.name, root: a.path, parent: engine.info.id, nimble: { kind: "lora" } });
    }
    const e = state.embedder?.info;
    if (e) data.push({ id: e.id, object: "model", created, owned_by: "nimble", root: e.id, parent: null, max_model_len: e.maxInputTokens, nimble: { kind: "embedding", dimensions: e.dimensions } });
    return { object: "list", data };
  });
}
