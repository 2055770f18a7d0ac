/**
 * Structured JSON logs (pino): one line per request with its id, route, status, duration and key
 * name. Keys are never logged (credential headers are redacted wherever they appear), and neither
 * are prompts and completions unless `--log-prompts` asks for them.
 */
import type { FastifyInstance } from "fastify";
import { pino, type DestinationStream, type Logger } from "pino";

export type LogLevel = "silent" | "error" | "warn" | "info" | "debug";

const REDACTED_PATHS = [
  "req.headers.authorization",
  'req.headers["x-api-key"]',
  "headers.authorization",
  'headers["x-api-key"]',
  "apiKey",
  "*.apiKey",
];

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "nimble" },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

declare module "fastify" {
  interface FastifyRequest {
    /** A non-streamed response body, kept for the log line when --log-prompts is on. */
    loggedResponse?: unknown;
    /** More fields for the request's log line (e.g. which guardrails fired; never content). */
    logFields?: Record<string, unknown>;
  }
}

/** Logs each request once it is over (finished, failed or abandoned by the client). */
export function registerRequestLog(app: FastifyInstance, options: { logPrompts: boolean }): void {
  if (options.logPrompts) {
    app.addHook("onSend", async (request, _reply, payload) => {
      if (typeof payload === "string") {
        try {
          request.loggedResponse = JSON.parse(payload);
        } catch {
          request.loggedResponse = payload;
        }
      }
      return payload;
    });
  }
  app.addHook("onRequest", async (request, reply) => {
    const started = process.hrtime.bigint();
    reply.raw.once("close", () => {
      const line: Record<string, unknown> = {
        method: request.method,
        route: request.routeOptions.url ?? null,
        path: request.url.split("?")[0],
        status: reply.raw.statusCode,
        ms: Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100,
        key: request.apiKey?.name ?? null,
      };
      if (!reply.raw.writableFinished) line.aborted = true;
      if (request.logFields) Object.assign(line, request.logFields);
      const expired = request.lifetime?.reason;
      if (expired) line.expired = expired;
      if (options.logPrompts) {
        if (request.body !== undefined) line.body = request.body;
        if (request.loggedResponse !== undefined) line.response = request.loggedResponse;
      }
      request.log.info(line, "request");
    });
  });
}
