/**
 * Turns on files and vector stores for a server: opens the RAG service (embedded store under
 * NIMBLE_HOME, or PostgreSQL with --rag-store), sets state.retriever, registers the Files and
 * Vector Stores routes (with multipart uploads) and closes the service with the server.
 */
import multipart from "@fastify/multipart";
import type { FastifyInstance } from "fastify";
import { poolModels } from "../../rag/models.js";
import { openRag } from "../../rag/open.js";
import type { ServerState } from "../state.js";
import { setRagService, useRagErrors } from "./common.js";
import { registerFileRoutes } from "./files.js";
import { registerVectorStoreRoutes } from "./vector-stores.js";

export interface RagRouteOptions {
  /** NIMBLE_HOME. */
  home: string;
  /** --rag-store: a postgres:// URL; unset = embedded. */
  storeUrl?: string;
  /** Largest upload in bytes (413 beyond). */
  maxFileBytes: number;
}

export function registerRagRoutes(app: FastifyInstance, state: ServerState, options: RagRouteOptions): void {
  const opening = openRag({ home: options.home, ...(options.storeUrl ? { storeUrl: options.storeUrl } : {}), models: poolModels(state.pool, state.embeddingPrefixes) });
  opening.then(
    // A retriever given in-process (createServer({ retriever })) wins over the built-in one.
    (service) => (state.retriever ??= service.retriever),
    (err: unknown) => app.log.error({ err }, "the vector store could not be opened"),
  );
  setRagService(state, opening);
  app.addHook("onClose", async () => {
    await (await opening.catch(() => undefined))?.close();
  });
  void app.register(async (scope) => {
    useRagErrors(scope);
    // The openai SDK sends DELETE requests with a JSON content type and no body.
    scope.removeContentTypeParser("application/json");
    scope.addContentTypeParser("application/json", { parseAs: "string" }, (_request, text, done) => {
      if (text === "") return done(null, undefined);
      try {
        done(null, JSON.parse(text as string));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
    await scope.register(multipart, { limits: { fileSize: options.maxFileBytes, files: 1, fields: 8, fieldSize: 64 * 1024 }, throwFileSizeLimit: true });
    registerFileRoutes(scope, state, options.maxFileBytes);
    registerVectorStoreRoutes(scope, state);
  });
}
