/** What every route handler can see of the server: the engine once loaded, and whether it is draining. */
import type { z } from "zod";
import type { EmbeddingEngine } from "../engine/embedding-engine.js";
import type { Engine } from "../engine/types.js";
import { ApiError } from "./errors.js";
import type { GenerationLimits } from "./limits.js";
import type { Metrics } from "./metrics.js";

export interface ServerState {
  engine: Engine | undefined;
  /** The embedding model, once loaded. */
  embedder?: EmbeddingEngine;
  /** Whether an embedding model is configured (503 while it loads, 404 when none is). */
  embedderConfigured?: boolean;
  /** Text put before each input of each input_type (NIM's asymmetric embedding models). */
  embeddingPrefixes: { query: string; passage: string };
  draining: boolean;
  metrics: Metrics;
  startedAt: number;
  /** Largest max_tokens and longest prompt. */
  limits: GenerationLimits;
  /** Settings and hardware to report in /v1/metadata. */
  metadata: Record<string, unknown>;
}

/** The engine, or 503 while the model loads or the server drains. */
export function requireEngine(state: ServerState): Engine {
  if (state.draining) throw ApiError.shuttingDown();
  if (!state.engine) throw ApiError.notReady();
  return state.engine;
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
