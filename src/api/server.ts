/**
 * The HTTP server: Fastify with the OpenAI/NIM routes. It listens at once (liveness 200) and
 * reports ready once the engine has loaded; close() drains in-flight requests first.
 */
import Fastify, { LogController, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { KeyRing } from "../keys/store.js";
import type { SchedulerObserver } from "../engine/scheduler.js";
import type { EmbeddingEngine } from "../engine/embedding-engine.js";
import type { Engine } from "../engine/types.js";
import { registerAuth } from "./auth.js";
import { registerChatRoutes } from "./chat.js";
import { registerCompletionRoutes } from "./completions.js";
import { ApiError, errorHandler, sendError } from "./errors.js";
import { registerManagementRoutes } from "./management.js";
import { Metrics } from "./metrics.js";
import { registerEmbeddingRoutes } from "./embeddings.js";
import { registerMessagesRoutes } from "./messages.js";
import { registerModelRoutes } from "./models.js";
import { registerTokenizeRoutes } from "./tokenize.js";
import { NO_GENERATION_LIMITS, registerRequestLifetime, type GenerationLimits } from "./limits.js";
import { RateLimiter, registerRateLimits, type LimitSettings } from "./rate-limit.js";
import { createLogger, registerRequestLog, type LogLevel } from "./request-log.js";
import type { ServerState } from "./state.js";
import { registerTransport, requestId } from "./transport.js";

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
}

export interface HttpServer {
  app: FastifyInstance;
  /** http://host:port */
  url: string;
  /** Resolves with the engine once the model is loaded; rejects if loading fails. */
  ready: Promise<Engine>;
  metrics: Metrics;
  /** Every route registered (method and pattern), for checks that must cover them all. */
  routes: readonly { method: string; url: string }[];
  /** Stops accepting requests (ready turns 503), lets in-flight ones finish, then closes. */
  close(): Promise<void>;
}

export type AppOptions = Omit<HttpServerOptions, "engine" | "embedder" | "embeddingPrefixes" | "host" | "port" | "drainTimeoutMs" | "metadata">;

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
    limits: { ...NO_GENERATION_LIMITS, ...options.generationLimits },
  };
  const routes: { method: string; url: string }[] = [];
  const app = buildApp(state, options, routes);
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

  const source = options.engine;
  const embedderSource = options.embedder;
  const embedderReady = embedderSource === undefined ? Promise.resolve(undefined) : typeof embedderSource === "function" ? embedderSource() : Promise.resolve(embedderSource);
  const ready = (typeof source === "function" ? source(metrics.observer) : Promise.resolve(source)).then(async (engine) => {
    const embedder = await embedderReady;
    metrics.attach(engine.info.id, () => engine.stats());
    state.embedder = embedder;
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
  return { app, url, ready, metrics, routes, close };
}
