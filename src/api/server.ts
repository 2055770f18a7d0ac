/**
 * The HTTP server: Fastify with the OpenAI/NIM routes. It listens at once (liveness 200) and
 * reports ready once the engine has loaded; close() drains in-flight requests first.
 */
import Fastify, { type FastifyInstance } from "fastify";
import type { SchedulerObserver } from "../engine/scheduler.js";
import type { EmbeddingEngine } from "../engine/embedding-engine.js";
import type { Engine } from "../engine/types.js";
import { registerChatRoutes } from "./chat.js";
import { registerCompletionRoutes } from "./completions.js";
import { ApiError, errorHandler, sendError } from "./errors.js";
import { registerManagementRoutes } from "./management.js";
import { Metrics } from "./metrics.js";
import { registerEmbeddingRoutes } from "./embeddings.js";
import { registerMessagesRoutes } from "./messages.js";
import { registerModelRoutes } from "./models.js";
import { registerTokenizeRoutes } from "./tokenize.js";
import type { ServerState } from "./state.js";

export type EngineSource = Engine | ((observer: SchedulerObserver) => Promise<Engine>);
export type EmbedderSource = EmbeddingEngine | (() => Promise<EmbeddingEngine>);

export interface HttpServerOptions {
  engine: EngineSource;
  /** An embedding model for /v1/embeddings (loaded alongside the engine). */
  embedder?: EmbedderSource;
  embeddingPrefixes?: { query: string; passage: string };
  host?: string;
  port?: number;
  /** Largest request body in bytes (413 beyond). */
  bodyLimit?: number;
  /** How long close() lets in-flight requests finish, in ms. */
  drainTimeoutMs?: number;
  logLevel?: "error" | "warn" | "info" | "debug" | "silent";
  /** Extra fields for /v1/metadata (settings, hardware). */
  metadata?: Record<string, unknown>;
}

export interface HttpServer {
  app: FastifyInstance;
  /** http://host:port */
  url: string;
  /** Resolves with the engine once the model is loaded; rejects if loading fails. */
  ready: Promise<Engine>;
  metrics: Metrics;
  /** Stops accepting requests (ready turns 503), lets in-flight ones finish, then closes. */
  close(): Promise<void>;
}

export function buildApp(state: ServerState, options: Pick<HttpServerOptions, "bodyLimit" | "logLevel">): FastifyInstance {
  const level = options.logLevel ?? "silent";
  const app = Fastify({
    bodyLimit: options.bodyLimit ?? 4 * 1024 * 1024,
    logger: level === "silent" ? false : { level },
    return503OnClosing: true,
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    void sendError(reply, new ApiError(404, `Unknown endpoint: ${request.method} ${request.url.split("?")[0]}`, "invalid_request_error", null, "not_found"));
  });
  registerManagementRoutes(app, state);
  registerModelRoutes(app, state);
  registerChatRoutes(app, state);
  registerCompletionRoutes(app, state);
  registerTokenizeRoutes(app, state);
  registerMessagesRoutes(app, state);
  registerEmbeddingRoutes(app, state);
  return app;
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const metrics = new Metrics();
  const state: ServerState = {
    engine: undefined,
    draining: false,
    metrics,
    startedAt: Date.now(),
    metadata: options.metadata ?? {},
    embedderConfigured: options.embedder !== undefined,
    embeddingPrefixes: options.embeddingPrefixes ?? { query: "", passage: "" },
  };
  const app = buildApp(state, options);
  await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 8000 });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port ?? 8000;
  const host = options.host ?? "127.0.0.1";
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  const source = options.engine;
  const embedderSource = options.embedder;
  const embedderReady = embedderSource === undefined ? Promise.resolve(undefined) : typeof embedderSource === "function" ? embedderSource() : Promise.resolve(embedderSource);
  const ready = (typeof source === "function" ? source(metrics.observer) : Promise.resolve(source)).then(async (engine) => {
    const embedder = await embedderReady;
    metrics.attach(engine.info.id, () => engine.stats());
    state.embedder = embedder;
    if (embedder) metrics.attachEmbedder(embedder.info.id, () => embedder.stats());
    state.engine = engine;
    return engine;
  });
  embedderReady.catch(() => {});
  ready.catch(() => {});

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      state.draining = true;
      const engine = state.engine ?? (await ready.catch(() => undefined));
      await engine?.close(options.drainTimeoutMs ?? 30_000);
      await state.embedder?.close();
      await app.close();
    })());
  return { app, url, ready, metrics, close };
}
