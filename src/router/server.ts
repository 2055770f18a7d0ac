/**
 * `nimble router` as a library: an HTTP front door with Nimble's API surface (OpenAI, NIM,
 * Anthropic) that authenticates and rate-limits clients with Nimble's own keys and limits, then
 * forwards each request to an upstream serving its model, chosen by the scorers in scoring.ts, with
 * retries before the first byte, circuit breakers, drain, timeouts and a bounded queue (proxy.ts,
 * queue.ts). GET /v1/models aggregates the upstreams' models; /v1/health/* and /v1/metrics are the
 * router's own.
 */
import { lookup } from "node:dns/promises";
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { registerAuth } from "../api/security/auth.js";
import { ApiError, errorHandler, errorHandlerWith, sendError } from "../api/errors.js";
import { anthropicError } from "../api/anthropic/messages.js";
import { Metrics } from "../api/nim/metrics.js";
import { RateLimiter, registerRateLimits } from "../api/security/rate-limit.js";
import { createLogger, registerRequestLog } from "../api/request-log.js";
import { registerTransport, requestId } from "../api/transport.js";
import { KeyRing } from "../keys/store.js";
import { NIMBLE_VERSION } from "../version.js";
import { parseRouterConfig, type RouterConfig, type RouterConfigInput } from "./config.js";
import { RouterMetrics } from "./metrics.js";
import { blockHashes, promptText } from "./prefix-index.js";
import { Flight, Sweeper } from "./flight.js";
import { attempt, forwardedHeaders } from "./proxy.js";
import { Admission } from "./queue.js";
import { describeScores, Picker, type RequestFeatures } from "./scoring.js";
import { Upstream, type ModelCardLike } from "./upstream.js";

/**
 * Updates the DNS-discovered upstreams in place: one per address each `discovery: dns` host resolves
 * to; vanished addresses are dropped (requests in flight there finish). A failed lookup keeps the last set.
 */
async function discover(config: RouterConfig, upstreams: Upstream[]): Promise<void> {
  for (const entry of config.upstreams.filter((u) => u.discovery === "dns")) {
    let addresses: string[];
    try {
      addresses = (await lookup(new URL(entry.url).hostname, { all: true })).map((a) => a.address);
    } catch {
      continue;
    }
    const current = upstreams.filter((u) => u.config === entry);
    for (const u of current) {
      if (!addresses.some((a) => u.base.hostname.replace(/^\[|\]$/g, "") === a)) {
        upstreams.splice(upstreams.indexOf(u), 1);
        setTimeout(() => u.close(), 60_000).unref();
      }
    }
    for (const address of addresses) {
      if (!current.some((u) => u.base.hostname.replace(/^\[|\]$/g, "") === address)) upstreams.push(new Upstream(entry, config, address));
    }
  }
}

/** The 408 of a request whose deadline (`timeouts.request`) passed before its first byte; its log line says so. */
function requestTimedOut(request: FastifyRequest): ApiError {
  request.logFields = { ...request.logFields, expired: "timeout" };
  return new ApiError(408, "The request took longer than this server allows and was cancelled.", "invalid_request_error", null, "request_timeout");
}

/** The POST routes forwarded to upstreams (each names its model in the body). */
export const FORWARDED_ROUTES = [
  "/v1/chat/completions",
  "/v1/completions",
  "/v1/embeddings",
  "/v1/messages",
  "/v1/messages/count_tokens",
  "/v1/ranking",
  "/v1/rerank",
  "/v1/responses",
  "/tokenize",
  "/detokenize",
] as const;

export interface RouterServer {
  app: FastifyInstance;
  url: string;
  config: RouterConfig;
  upstreams: readonly Upstream[];
  metrics: RouterMetrics;
  /** Reads every upstream's health, models and metrics now. */
  refresh(): Promise<void>;
  /** Stops accepting requests (ready turns 503), lets forwarded ones finish (up to drainTimeoutMs), then closes. */
  close(drainTimeoutMs?: number): Promise<void>;
}

export interface StartRouterOptions {
  logger?: Logger;
  /** Keys to accept instead of those the config names. */
  keys?: KeyRing;
}

declare module "fastify" {
  interface FastifyRequest {
    rawBody?: Buffer;
    /** performance.now() when the router's first hook saw the request (its routing time starts there). */
    arrivedAt?: number;
  }
}

export async function startRouter(input: RouterConfigInput | RouterConfig, options: StartRouterOptions = {}): Promise<RouterServer> {
  const config = parseRouterConfig(input);
  // Static upstreams now; DNS-discovered ones at each refresh (the array is updated in place: metrics read it).
  const upstreams: Upstream[] = config.upstreams.filter((u) => u.discovery === "none").map((u) => new Upstream(u, config));
  const metrics = new RouterMetrics(upstreams);
  const picker = new Picker(config.routing.strategy, config.routing.weights);
  const admission = new Admission(config.maxConcurrent, config.maxQueue, config.queueTimeout * 1000, (n) => metrics.queueWaiting.set(n));
  const keys = options.keys ?? KeyRing.load({ apiKeys: config.apiKeys, apiKeyFile: config.apiKeyFile, home: config.home });

  const app = Fastify({
    bodyLimit: config.bodyLimit,
    loggerInstance: options.logger ?? createLogger(config.logLevel),
    logController: new LogController({ disableRequestLogging: true }),
    genReqId: requestId,
    return503OnClosing: true,
    requestTimeout: 60_000,
  }) as unknown as FastifyInstance;
  // The body is kept as received (forwarded byte for byte) and parsed to read the model and prompt.
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (request, body, done) => {
    (request as FastifyRequest).rawBody = body as Buffer;
    try {
      done(null, JSON.parse((body as Buffer).toString("utf8")));
    } catch (err) {
      (err as { statusCode?: number }).statusCode = 400;
      done(err as Error, undefined);
    }
  });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => {
    void sendError(reply, new ApiError(404, `Unknown endpoint: ${request.method} ${request.url.split("?")[0]}`, "invalid_request_error", null, "not_found"));
  });
  app.addHook("onRequest", (request, _reply, done) => {
    request.arrivedAt = performance.now();
    done();
  });
  registerTransport(app, { corsAllowOrigins: config.corsAllowOrigins });
  registerRequestLog(app, { logPrompts: false });
  registerAuth(app, keys);
  // The front door's key limits (requests per minute, in flight) are Nimble's; the token budget is the upstreams' to count.
  const keyMetrics = new Metrics();
  registerRateLimits(app, new RateLimiter(config.rateLimit), keyMetrics);
  // The request deadline and the upstream timeouts are checked by one sweeper (flight.ts), not a timer per request.
  const requestTimeoutMs = config.timeouts.request * 1000;
  const sweeper = new Sweeper(Sweeper.periodFor([config.timeouts.connect, config.timeouts.firstByte, config.timeouts.request, config.timeouts.idle].map((s) => s * 1000)));
  const prefixRouting = config.routing.strategy === "score" && config.routing.weights.prefix > 0;
  const maxPrefixChars = config.routing.blockChars * config.routing.matchBlocks;

  // Refresh: every upstream in parallel, every refreshInterval; a request for an unknown model refreshes at most once a second.
  let refreshing: Promise<void> | undefined;
  let lastRefresh = 0;
  const refresh = () =>
    (refreshing ??= discover(config, upstreams).then(() => Promise.all(upstreams.map((u) => u.refresh()))).then(() => {
      lastRefresh = Date.now();
      refreshing = undefined;
    }));
  await refresh();
  const timer = setInterval(() => void refresh(), Math.max(100, config.refreshInterval * 1000));
  timer.unref();

  app.get("/v1/health/live", async () => ({ object: "health.response", message: "live", live: true }));
  app.get("/v1/health/ready", async (_request, reply) => {
    const ready = upstreams.filter((u) => u.available()).length;
    if (ready > 0 && !closing) return { object: "health.response", message: "ready", ready: true, upstreams_ready: ready };
    return reply.status(503).header("retry-after", "1").send({ object: "health.response", message: closing ? "shutting down" : "no upstream ready", ready: false, upstreams_ready: ready });
  });
  app.get("/v1/version", async () => ({ release: NIMBLE_VERSION, api: "1.0.0" }));
  app.get("/v1/metrics", async (_request, reply) => {
    reply.header("content-type", metrics.registry.contentType);
    return (await metrics.render()) + (await keyMetrics.render());
  });
  app.get("/v1/metadata", async () => ({
    version: NIMBLE_VERSION,
    router: { strategy: config.routing.strategy, weights: config.routing.weights },
    upstreams: upstreams.map((u) => ({ name: u.name, ready: u.ready, draining: u.draining, breaker: u.breaker.state, models: [...u.models.keys()], in_flight: u.inFlight, load: u.load(), last_error: u.lastError ?? null })),
  }));
  const aggregated = (): ModelCardLike[] => {
    const seen = new Map<string, ModelCardLike>();
    for (const u of upstreams) if (u.ready) for (const [id, card] of u.models) if (!seen.has(id)) seen.set(id, card);
    return [...seen.values()];
  };
  app.get("/v1/models", async () => ({ object: "list", data: aggregated() }));
  app.get<{ Params: { id: string } }>("/v1/models/:id", async (request) => {
    const card = aggregated().find((c) => c.id === request.params.id);
    if (!card) throw ApiError.modelNotFound(request.params.id);
    return card;
  });

  const anthropicErrors = errorHandlerWith(anthropicError);
  for (const path of FORWARDED_ROUTES) {
    const anthropic = path.startsWith("/v1/messages");
    app.post(path, anthropic ? { errorHandler: anthropicErrors } : {}, (request, reply) => forward(request, reply, path, anthropic ? anthropicError : (e) => e.body()));
  }

  async function forward(request: FastifyRequest, reply: FastifyReply, path: string, errorBody: (e: ApiError) => unknown): Promise<void> {
    const arrived = request.arrivedAt ?? performance.now();
    if (closing) throw ApiError.shuttingDown();
    const body = request.body;
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw ApiError.invalid("The request body must be a JSON object.", null, "invalid_json");
    const fields = body as Record<string, unknown>;
    const model = fields.model;
    if (typeof model !== "string" || model.length === 0) throw ApiError.invalid("Invalid value for 'model': Required", "model");
    if (!upstreams.some((u) => u.models.has(model)) && Date.now() - lastRefresh > 1000) await refresh();
    const serving = upstreams.filter((u) => u.models.has(model));
    if (serving.length === 0) throw ApiError.modelNotFound(model);

    // Cancelled when the client leaves or the request's deadline passes (the sweeper checks it).
    const flight = new Flight(requestTimeoutMs > 0 ? arrived + requestTimeoutMs : Infinity);
    active++;
    sweeper.add(flight);
    reply.raw.once("close", () => {
      active--;
      sweeper.delete(flight);
      if (!reply.raw.writableFinished) flight.cancel("client");
    });
    const release = admission.tryAcquire() ?? (await admission.acquire(flight).catch((err: ApiError) => {
      sweeper.delete(flight);
      if (flight.reason === "timeout") throw requestTimedOut(request);
      metrics.queueRejected.inc({ reason: err.code ?? "error" });
      throw err;
    }));
    try {
      const sessionHeader = request.headers[config.routing.sessionHeader];
      const session = typeof sessionHeader === "string" ? sessionHeader : typeof fields.user === "string" ? fields.user : undefined;
      const card = serving.find((u) => u.models.get(model)?.parent)?.models.get(model);
      const features: RequestFeatures = {
        blocks: prefixRouting ? blockHashes(model, promptText(fields, maxPrefixChars), config.routing.blockChars) : [],
        session,
        adapter: card?.parent ? model : undefined,
      };
      const headers = forwardedHeaders(request.headers);
      headers["x-request-id"] = request.id;
      const forwardedBody = request.rawBody ?? Buffer.from(JSON.stringify(body));
      const ownHeaders = reply.getHeaders() as Record<string, string>;
      const tried = new Set<Upstream>();
      let lastError: ApiError | undefined;
      let staleRetried = false;
      for (let n = 0; n <= config.retries; n++) {
        const candidates = serving.filter((u) => !tried.has(u) && u.available());
        if (candidates.length === 0) break;
        const decision = picker.pick(candidates, features);
        const u = decision.chosen;
        tried.add(u);
        const chosenScore = decision.scores.find((s) => s.name === u.name);
        metrics.decided(u.name, config.routing.strategy, chosenScore, performance.now() - arrived);
        const route = decision.scores.length > 0 ? describeScores(decision.scores, u.name) : `${u.name};strategy=round-robin`;
        const probe = u.breaker.begin();
        u.inFlight++;
        // Recorded before the answer: requests that follow at once see this prompt as being on its way there.
        if (features.blocks.length > 0) u.prefixes.add(features.blocks);
        if (features.adapter) u.recentAdapters.set(features.adapter, Date.now());
        let outcome;
        try {
          outcome = await attempt(u, {
            path, body: forwardedBody, headers,
            responseHeaders: { ...ownHeaders, "x-nimble-upstream": u.name, "x-nimble-route": route, "x-nimble-attempts": String(n + 1) },
            client: reply.raw, flight,
            connectTimeoutMs: config.timeouts.connect * 1000, firstByteTimeoutMs: config.timeouts.firstByte * 1000, idleTimeoutMs: config.timeouts.idle * 1000,
            errorBody,
          });
        } finally {
          u.inFlight--;
        }
        if (outcome.kind === "committed") {
          reply.hijack();
          if (outcome.failedMidway && !flight.aborted) u.breaker.failure();
          else if (outcome.status >= 500) u.breaker.failure();
          else if (flight.aborted) u.breaker.neutral(probe);
          else u.breaker.success();
          metrics.finished(u.name, flight.aborted ? "aborted" : outcome.failedMidway ? "failed" : `${Math.floor(outcome.status / 100)}xx`);
          return;
        }
        if (outcome.kind === "client-gone") {
          u.breaker.neutral(probe);
          // The deadline passed before the first byte: the client is still there and gets the 408.
          if (flight.reason === "timeout") {
            metrics.finished(u.name, "timeout");
            throw requestTimedOut(request);
          }
          metrics.finished(u.name, "aborted");
          reply.hijack();
          if (!reply.raw.destroyed) reply.raw.destroy();
          return;
        }
        // A kept-alive connection the upstream had closed: ask it again on a new one (once per request).
        if (outcome.stale && !staleRetried) {
          staleRetried = true;
          tried.delete(u);
          n--;
          continue;
        }
        // Failed before its first byte: nothing was sent, so another upstream may take it.
        if (outcome.fault) u.breaker.failure();
        else u.breaker.neutral(probe);
        if (outcome.drain) u.draining = true;
        u.lastError = `${outcome.reason}: ${outcome.error.message}`;
        lastError = outcome.error;
        metrics.retried(u.name, outcome.reason);
        request.log.warn({ upstream: u.name, reason: outcome.reason }, "upstream attempt failed before its first byte");
      }
      if (lastError) throw lastError;
      throw new ApiError(503, `No upstream serving '${model}' is available now (${serving.map((u) => `${u.name}: ${u.draining ? "draining" : !u.ready ? "not ready" : `circuit ${u.breaker.state}`}`).join("; ")}).`, "service_unavailable", null, "no_upstream_available", { "retry-after": "1" });
    } finally {
      release();
      sweeper.delete(flight);
    }
  }

  let closing = false;
  /** Forwarded requests not finished yet (close() lets them finish). */
  let active = 0;
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
  return {
    app, url, config, upstreams, metrics, refresh,
    async close(drainTimeoutMs = 30_000) {
      closing = true;
      clearInterval(timer);
      const end = Date.now() + drainTimeoutMs;
      while (active > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      // Idle keep-alive sockets (and ones that never sent a request) would hold close() until their timeouts.
      app.server.closeAllConnections();
      await app.close();
      sweeper.close();
      for (const u of upstreams) u.close();
    },
  };
}
