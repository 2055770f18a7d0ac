/**
 * The HTTP server: Fastify with the OpenAI/NIM routes. It listens at once (liveness 200) and
 * reports ready once the engine has loaded; close() drains in-flight requests first.
 */
import Fastify, { LogController, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { KeyRing } from "../keys/store.js";
import type { SchedulerObserver } from "../engine/scheduler.js";
import os from "node:os";
import type { EmbeddingEngine } from "../engine/embedding-engine.js";
import { ModelPool, type ModelSpec } from "../engine/model-pool.js";
import type { Engine } from "../engine/types.js";
import { registerAdminRoutes, type AdminStore } from "./admin/models.js";
import { registerAdminKeyAndMachineRoutes } from "./admin/keys-machine.js";
import { registerAdminGuardrailsRoutes } from "./admin/guardrails.js";
import { registerAdminAssistantRoutes, type AssistantModelOptions } from "./admin/assistant.js";
import { registerAuth } from "./security/auth.js";
import { registerChatRoutes } from "./openai/chat.js";
import { registerCompletionRoutes } from "./openai/completions.js";
import { ApiError, errorHandler, sendError } from "./errors.js";
import { registerManagementRoutes } from "./nim/management.js";
import { Metrics } from "./nim/metrics.js";
import { registerEmbeddingRoutes } from "./openai/embeddings.js";
import { registerMessagesRoutes } from "./anthropic/messages.js";
import { registerModelRoutes } from "./openai/models.js";
import { registerRerankRoutes } from "./nim/rerank.js";
import { registerResponsesRoutes } from "./openai/responses.js";
import { ResponseStore, type RetentionLimits } from "./openai/responses-store.js";
import type { Retriever } from "../rag/types.js";
import { registerRagRoutes, type RagRouteOptions } from "./openai/rag-routes.js";
import { registerTokenizeRoutes } from "./openai/tokenize.js";
import { registerGuardrails } from "./guardrails/register.js";
import type { GuardrailsFile } from "../guardrails/config.js";
import type { ServedModel, ServerState } from "./state.js";
import { LoraDirectory } from "../models/lora-dir.js";
import { NO_GENERATION_LIMITS, registerRequestLifetime, type GenerationLimits } from "./security/limits.js";
import { RateLimiter, registerRateLimits, type LimitSettings } from "./security/rate-limit.js";
import { createLogger, registerRequestLog, type LogLevel } from "./request-log.js";
import { registerTransport, requestId } from "./transport.js";
import { registerPlayground } from "./playground.js";
import { registerWhoami } from "./access/whoami.js";

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
  logLevel?: LogLevel;
  /** Logs to this logger instead of a new one on stdout at `logLevel`. */
  logger?: Logger;
  /** Put prompts and completions in the request log lines. */
  logPrompts?: boolean;
  /** API keys; with none, every route is open. */
  keys?: KeyRing;
  /** Per-key limits for keys that set none (0: unlimited). */
  keyLimits?: Partial<LimitSettings>;
  /** Largest max_tokens and longest prompt (0: none). */
  generationLimits?: Partial<GenerationLimits>;
  /** Longest a request may take, and a stream stay silent, in ms (0: no limit). */
  requestTimeoutMs?: number;
  streamIdleTimeoutMs?: number;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Origins allowed by CORS ("*": any); none by default. */
  corsAllowOrigins?: readonly string[];
  /** Extra fields for /v1/metadata (settings, hardware). */
  metadata?: Record<string, unknown>;
  /** Where POST /v1/admin/pull puts models. */
  store?: AdminStore;
  /** The Responses API's stored responses: the SQLite file (default: in memory) and how long they are kept. */
  responses?: { path?: string } & Partial<RetentionLimits>;
  /** Searches vector stores (the Responses API's file_search, grounded chat). */
  retriever?: Retriever;
  /** Guardrails configurations (--guardrails). */
  guardrails?: GuardrailsFile;
  /** Serve the web playground at / (off unless set; --no-ui turns it off in `nimble serve`). */
  ui?: boolean;
  /** Files and vector stores (off without it). */
  rag?: RagRouteOptions;
  /** The model that drives the setup assistant's HTTP API (/v1/admin/assistant; default: the served one, if capable). */
  assistant?: AssistantModelOptions;
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
  /** Every route registered (method and pattern), for checks that must cover them all. */
  routes: readonly { method: string; url: string }[];
  /** Stops accepting requests (ready turns 503), lets in-flight ones finish, then closes. */
  close(): Promise<void>;
}

export type AppOptions = Omit<HttpServerOptions, "models" | "embeddingPrefixes" | "host" | "port" | "drainTimeoutMs" | "metadata" | "memoryBudgetBytes" | "fitTimeoutMs">;

export function buildApp(state: ServerState, options: AppOptions, routes: { method: string; url: string }[] = []): FastifyInstance {
  const app = Fastify({
    bodyLimit: options.bodyLimit ?? 4 * 1024 * 1024,
    loggerInstance: options.logger ?? createLogger(options.logLevel ?? "silent"),
    // Fastify's own request lines are replaced by one line per request (request-log.ts).
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestId,
    return503OnClosing: true,
    // Time to receive a whole request (slow senders); generation time is --request-timeout's.
    requestTimeout: 60_000,
    ...(options.tls ? { https: { cert: options.tls.cert, key: options.tls.key } } : {}),
  }) as unknown as FastifyInstance;
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    void sendError(reply, new ApiError(404, `Unknown endpoint: ${request.method} ${request.url.split("?")[0]}`, "invalid_request_error", null, "not_found"));
  });
  // Hooks run in this order: request id, headers and CORS; the log line (so refused requests are logged too);
  // authentication; per-key limits; the request's deadline.
  registerTransport(app, { corsAllowOrigins: options.corsAllowOrigins, tls: options.tls !== undefined });
  registerRequestLog(app, { logPrompts: options.logPrompts ?? false });
  registerAuth(app, options.keys ?? new KeyRing());
  registerRateLimits(app, new RateLimiter({ rpm: 0, tpm: 0, concurrency: 0, ...options.keyLimits }), state.metrics);
  registerRequestLifetime(app, { requestTimeoutMs: options.requestTimeoutMs ?? 0, streamIdleTimeoutMs: options.streamIdleTimeoutMs ?? 0 });
  const compileGuardrails = registerGuardrails(app, state, options.guardrails);
  registerManagementRoutes(app, state);
  registerModelRoutes(app, state);
  registerChatRoutes(app, state);
  registerCompletionRoutes(app, state);
  registerTokenizeRoutes(app, state);
  registerMessagesRoutes(app, state);
  registerEmbeddingRoutes(app, state);
  registerRerankRoutes(app, state);
  registerAdminRoutes(app, state, options.store);
  if (options.store) registerAdminKeyAndMachineRoutes(app, state, options.store.home);
  registerAdminGuardrailsRoutes(app, state, options.guardrails, compileGuardrails);
  if (options.store) registerAdminAssistantRoutes(app, options.store.home, { ...options.assistant, tls: options.tls !== undefined });
  registerResponsesRoutes(app, state);
  registerWhoami(app);
  if (options.ui) registerPlayground(app);
  if (options.rag) registerRagRoutes(app, state, options.rag);
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
      onLoaded: (id, kind, model) => {
        if (kind === "embedding") {
          const embedder = model as EmbeddingEngine;
          metrics.attachEmbedder(id, () => embedder.stats());
        } else if (kind === "chat") {
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
    limits: { ...NO_GENERATION_LIMITS, ...options.generationLimits },
    ...(options.retriever ? { retriever: options.retriever } : {}),
    responses: new ResponseStore(options.responses?.path ?? ":memory:", { maxAgeSeconds: options.responses?.maxAgeSeconds ?? 0, maxCount: options.responses?.maxCount ?? 0 }),
  };
  const routes: { method: string; url: string }[] = [];
  app = buildApp(state, options, routes);
  // Fastify logs each listening address at info; `url` and the CLI's startup lines say it already.
  const level = app.log.level;
  if (["trace", "debug", "info"].includes(level)) app.log.level = "warn";
  try {
    await app.listen({ host: options.host ?? "127.0.0.1", port: options.port ?? 8000 });
  } finally {
    app.log.level = level;
  }
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : options.port ?? 8000;
  const host = options.host ?? "127.0.0.1";
  const url = `${options.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`;

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
      state.responses?.close();
    })());
  return { app, url, ready, metrics, pool, routes, close, get adapters() { return defaultChat ? adapters.get(defaultChat.id) : undefined; } };
}
