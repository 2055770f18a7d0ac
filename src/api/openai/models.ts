/** GET /v1/models: every configured model with its state, each LoRA adapter with its parent, and a plain note for the demo model. */
import { relative } from "node:path";
import type { FastifyInstance } from "fastify";
import type { EmbeddingEngine } from "../../engine/embedding-engine.js";
import type { ModelStatus } from "../../engine/model-pool.js";
import type { RerankEngine } from "../../engine/rerank-engine.js";
import type { Engine, ModelInfo } from "../../engine/types.js";
import type { ModelCard } from "../protocol.js";
import type { ServerState } from "../state.js";

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

/** The card of a configured model: what its engine reports when loaded, its state always. */
function statusCard(state: ServerState, s: ModelStatus, created: number): ModelCard {
  const pooled = { kind: s.kind, state: s.state, aliases: s.aliases, memory_bytes: s.memoryBytes, ...(s.error ? { error: s.error } : {}) };
  const loaded = state.pool.peek(s.id);
  if (loaded && s.kind === "chat") {
    const card = modelCard((loaded as Engine).info, created);
    return { ...card, id: s.id, nimble: { ...card.nimble!, ...pooled } };
  }
  const embedding = loaded && s.kind === "embedding" ? (loaded as EmbeddingEngine).info : undefined;
  const reranker = loaded && s.kind === "rerank" ? (loaded as RerankEngine).info : undefined;
  return {
    id: s.id,
    object: "model",
    created,
    owned_by: "nimble",
    root: s.id,
    parent: null,
    max_model_len: (embedding ?? reranker)?.maxInputTokens ?? null,
    nimble: { ...pooled, ...(embedding ? { dimensions: embedding.dimensions } : {}) },
  };
}

export function registerModelRoutes(app: FastifyInstance, state: ServerState): void {
  app.get("/v1/models", async () => {
    const created = Math.floor(state.startedAt / 1000);
    const data: ModelCard[] = state.pool.status().map((s) => statusCard(state, s, created));
    // LoRA adapters, as vLLM lists them: root is the adapter file (relative to its folder: no response reveals the server's folders), parent the base model.
    for (const [parent, folder] of state.adapters) {
      const base = data.find((c) => c.id === parent)!;
      for (const a of await folder.list()) {
        if (state.pool.resolve(a.name) === undefined) data.push({ ...base, id: a.name, created: Math.floor(a.modifiedMs / 1000), root: relative(folder.dir, a.path), parent, nimble: { kind: "lora" } });
      }
    }
    return { object: "list", data };
  });
}
