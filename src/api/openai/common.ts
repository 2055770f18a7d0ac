/** What the Files and Vector Stores routes share: the RAG service of a server, error mapping, cursor pages. */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { NoEmbeddingModelError } from "../../rag/models.js";
import { RagNotFoundError, type RagService } from "../../rag/service.js";
import { ApiError } from "../errors.js";
import { requireServing, type ServerState } from "../state.js";

const services = new WeakMap<ServerState, Promise<RagService>>();

/** Remembers the server's RAG service (being opened). */
export function setRagService(state: ServerState, service: Promise<RagService>): void {
  services.set(state, service);
}

/** The server's RAG service; 404-style error when vector stores are off, 503 while it opens or if it failed. */
export async function ragService(state: ServerState): Promise<RagService> {
  requireServing(state);
  const service = services.get(state);
  if (!service) throw new ApiError(404, "Files and vector stores are not enabled on this server.", "invalid_request_error", null, "not_found");
  try {
    return await service;
  } catch {
    throw new ApiError(503, "The vector store could not be opened; the server log says why.", "service_unavailable", null, "rag_store_unavailable");
  }
}

/** Maps the RAG layer's errors to API errors (others pass through). */
export function ragError(err: unknown): unknown {
  if (err instanceof RagNotFoundError) return new ApiError(404, err.message, "invalid_request_error", null, "not_found");
  if (err instanceof NoEmbeddingModelError) return ApiError.invalid(err.message, "embedding_model", "embedding_model_required");
  return err;
}

/** Validates a query string. */
export function parseQuery<S extends z.ZodTypeAny>(schema: S, request: FastifyRequest): z.infer<S> {
  const parsed = schema.safeParse(request.query ?? {});
  if (!parsed.success) throw ApiError.fromZod(parsed.error);
  return parsed.data;
}

/** OpenAI's cursor page over items in creation order (ids as cursors). */
export function cursorPage<T extends { id: string }>(items: readonly T[], q: { limit: number; order: "asc" | "desc"; after?: string; before?: string }) {
  let list = q.order === "desc" ? [...items].reverse() : [...items];
  if (q.after !== undefined) {
    const i = list.findIndex((x) => x.id === q.after);
    list = i >= 0 ? list.slice(i + 1) : [];
  }
  if (q.before !== undefined) {
    const i = list.findIndex((x) => x.id === q.before);
    list = i >= 0 ? list.slice(0, i) : list;
    if (list.length > q.limit) list = list.slice(list.length - q.limit);
  }
  const data = list.slice(0, q.limit);
  return { object: "list" as const, data, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null, has_more: list.length > data.length };
}

/** Registers the error mapping on a route scope. */
export function useRagErrors(app: FastifyInstance): void {
  const handler = app.errorHandler;
  app.setErrorHandler((err, request, reply) => handler.call(app, ragError(err) as Error, request, reply));
}
