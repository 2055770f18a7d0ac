/** What every route handler can see of the server: its models, and whether it is ready or draining. */
import type { z } from "zod";
import type { EmbeddingEngine } from "../engine/embedding-engine.js";
import type { ModelPool } from "../engine/model-pool.js";
import type { RerankEngine } from "../engine/rerank-engine.js";
import type { Engine } from "../engine/types.js";
import type { LoraDirectory } from "../models/lora-dir.js";
import { ApiError } from "./errors.js";
import type { GenerationLimits } from "./security/limits.js";
import type { Metrics } from "./nim/metrics.js";
import type { ResponseStore } from "./openai/responses-store.js";
import type { Guardrails } from "../guardrails/guardrails.js";
import type { Retriever } from "../rag/types.js";

/** A model the server runs: a generation engine, an embedding engine or a reranker. */
export type ServedModel = Engine | EmbeddingEngine | RerankEngine;

export interface ServerState {
  /** Every configured model, loaded on demand. */
  pool: ModelPool<ServedModel>;
  /** Startup (preloading) is done: until then requests get 503. */
  ready: boolean;
  /** Text put before each input of each input_type (NIM's asymmetric embedding models). */
  embeddingPrefixes: { query: string; passage: string };
  /** LoRA adapter folders, by the id of the model they adapt (--lora-dir, or per model in the config file). */
  adapters: Map<string, LoraDirectory>;
  draining: boolean;
  metrics: Metrics;
  startedAt: number;
  /** Largest max_tokens and longest prompt. */
  limits: GenerationLimits;
  /** Settings and hardware to report in /v1/metadata. */
  metadata: Record<string, unknown>;
  /** Stored Responses API responses (SQLite under the home folder). */
  responses?: ResponseStore;
  /** The guardrails file's configurations (--guardrails), when one is given. */
  guardrails?: Guardrails;
  retriever?: Retriever;
}

/** Throws the 503 for a server that is draining or still starting. */
export function requireServing(state: ServerState): void {
  if (state.draining) throw ApiError.shuttingDown();
  if (!state.ready) throw ApiError.notReady();
}

/** Validates a request body, turning the first problem into a 400 that names the parameter. */
export function parseBody<S extends z.ZodTypeAny>(schema: S, body: unknown): z.infer<S> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw ApiError.invalid("The request body must be a JSON object.", null, "invalid_json");
  }
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw ApiError.fromZod(parsed.error);
  return parsed.data;
}
