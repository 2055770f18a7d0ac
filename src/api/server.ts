/**
 * The HTTP server: Fastify with the OpenAI/NIM routes. It listens at once (liveness 200) and
 * reports ready once the engine has loaded; close() drains in-flight requests first.
 */
import Fastify, { type FastifyInstance } from "fastify";
import type { SchedulerObserver } from "../engine/scheduler.js";
import os from "node:os";
import { EmbeddingEngine } from "../engine/embedding-engine.js";
import { ModelPool, type ModelSpec } from "../engine/model-pool.js";
import type { Engine } from "../engine/types.js";
import { registerAdminRoutes, type AdminStore } from "./admin.js";
import { registerChatRoutes } from "./chat.js";
import { registerCompletionRoutes } from "./completions.js";
import { ApiError, errorHandler, sendError } from "./errors.js";
import { registerManagementRoutes } from "./management.js";
import { Metrics } from "./metrics.js";
import { registerEmbeddingRoutes } from "./embeddings.js";
import { registerMessagesRoutes } from "./messages.js";
import { registerModelRoutes } from "./models.js";
import { registerRerankRoutes } from "./rerank.js";
import { registerTokenizeRoutes } from "./tokenize.js";
import type { ServedModel, ServerState } from "./state.js";
import { LoraDirectory } from "../models/lora-dir.js";

/** A model the server offers: loaded on first use (or at start with `preload`), told where to report its metrics. */
export type ServedModelSpec = Omit<ModelSpec<ServedModel>, "load"> & {
  load(observer: SchedulerObserver): Promise<ServedModel>;
  /** A folder of LoRA adapters for this (chat) model. */
  lora?: { dir: string; refreshMs: number };
};

export interface HttpServerOptions {
  /** The models to serve; the first chat model is the default one and is always loaded at start. */
  models: ServedModelSpec[];
  /** Most bytes the loaded models may take together (default: 80% of RAM). */
  memoryBudgetBytes?: number;
  embeddingPrefixes?: { query: string; passage: string };
  host?: string;
  port?: number;
  /** Largest request body in bytes (413 beyond). */
  bodyLimit?: number;
  /** How long close() lets in-flight requests finish, in ms. */
  drainTimeoutMs?: number;
  /** How long a request waits for busy models to go idle so that its model fits in the budget, in ms. */
  fitTimeoutMs?: number;
  logLevel?: "error" | "warn" | "info" | "debug" | "silent";
  /** Extra fields for /v1/metadata (settings, hardware). */
  metadata?: Record<string, unknown>;
  /** Where POST /v1/admin/pull puts models. */
  store?: AdminStore;
}

export interface HttpServer {
  app: FastifyInstance;
  /** http://host:port */
  url: string;
  /** Resolves with the default model's engine once the models to preload are loaded; rejects if one fails. */
  ready: Promise<Engine>;
  /** Every configured model, loaded on demand. */
  pool: ModelPool<ServedModel>;
  metrics: Metrics;
  /** The LoRA adapters folder, once the model is loaded (when --lora-dir is set). */
  readonly adapters: LoraDirectory | undefined;
  /** Stops accepting requests (ready turns 503), lets in-flight ones finish, then closes. */
  close(): Promise<void>;
}

export function buildApp(state: ServerState, options: Pick<HttpServerOptions, "bodyLimit" | "logLevel" | "store">): FastifyInstance {
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
  registerRerankRoutes(app, state);
  registerAdminRoutes(app, state, options.store);
  return app;
}

export async function startHttpServer(options: HttpServerOptions): Promise<HttpServer> {
  const metrics = new Metrics();
  const defaultChat = options.models.find((m) => m.kind === "chat");
  const adapters = new Map<string, LoraDirectory>();
  let app: FastifyInstance | undefined;
  const warn = (message: string) => app?.log.warn(message);
  for (const m of options.models) if (m.lora) adapters.set(m.id, new LoraDirectory(m.lora.dir, m.lora.refreshMs, warn));
  const pool = new ModelPool<ServedModel>(
    options.models.map((m) => ({ ...m, preload: m.preload || m === defaultChat, load: () => m.load(metrics.observerFor(m.id)) })),
    options.memoryBudgetBytes ?? Math.floor(os.totalmem() * 0.8),
    {
      onLoaded: (id, model) => {
        if (model instanceof EmbeddingEngine) metrics.attachEmbedder(id, () => model.stats());
        else if ("scheduler" in model || "applyChatTemplate" in model) {
          const engine = model as Engine;
          metrics.attach(id, () => engine.stats());
          adapters.get(id)?.setArchitecture(engine.info.architecture);
        }
      },
      onUnloaded: (id) => metrics.detach(id),
    },
    options.fitTimeoutMs,
  );
  const state: ServerState = {
    pool,
    ready: false,
    draining: false,
    adapters,
    metrics,
    startedAt: Date.now(),
    metadata: options.metadata ?? {},
    embeddingPrefixes: options.embeddingPrefixes ?? { query: "", passage: "" },
  };
  app = buildApp(state, options);
  await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 8000 });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port ?? 8000;
  const host = options.host ?? "127.0.0.1";
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  const ready = pool.preload().then(() => {
    state.ready = true;
    return pool.peek(defaultChat!.id) as Engine;
  });
  ready.catch(() => {});

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      state.draining = true;
      await pool.close(options.drainTimeoutMs ?? 30_000);
      await app!.close();
    })());
  return { app, url, ready, metrics, pool, close, get adapters() { return defaultChat ? adapters.get(defaultChat.id) : undefined; } };
}
