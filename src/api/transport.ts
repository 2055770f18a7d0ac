/**
 * What every HTTP response carries whatever the route: the request id (`x-request-id`, taken from
 * the client when well-formed, else generated), security headers, and CORS (off unless origins are
 * configured; preflight requests are answered here, before authentication, as browsers send them
 * without credentials).
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { FastifyInstance } from "fastify";

const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** The client's `x-request-id` if it is a plain token of at most 128 characters, else a new UUID. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
}

/** Headers that tell browsers to treat responses as inert data. */
function securityHeaders(tls: boolean): Record<string, string> {
  return {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    ...(tls ? { "strict-transport-security": "max-age=31536000" } : {}),
  };
}

/** Response headers a browser script may read (rate limits, request id). */
const EXPOSED = [
  "x-request-id",
  "retry-after",
  "x-ratelimit-limit-requests",
  "x-ratelimit-remaining-requests",
  "x-ratelimit-reset-requests",
  "x-ratelimit-limit-tokens",
  "x-ratelimit-remaining-tokens",
  "x-ratelimit-reset-tokens",
].join(", ");

export interface TransportOptions {
  /** Origins allowed by CORS; "*" allows any. Empty: no CORS headers at all. */
  corsAllowOrigins?: readonly string[];
  tls?: boolean;
}

export function registerTransport(app: FastifyInstance, options: TransportOptions): void {
  const headers = securityHeaders(options.tls ?? false);
  const origins = new Set(options.corsAllowOrigins ?? []);
  const anyOrigin = origins.has("*");
  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
    reply.headers(headers);
    const origin = request.headers.origin;
    if (origins.size === 0 || typeof origin !== "string" || !(anyOrigin || origins.has(origin))) return;
    reply.header("access-control-allow-origin", anyOrigin ? "*" : origin);
    if (!anyOrigin) reply.header("vary", "Origin");
    reply.header("access-control-expose-headers", EXPOSED);
    if (request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined) {
      const requested = request.headers["access-control-request-headers"];
      reply.header("access-control-allow-methods", "GET, POST, OPTIONS");
      reply.header("access-control-allow-headers", typeof requested === "string" && /^[\w\s,-]{0,1000}$/.test(requested) ? requested : "authorization, content-type, x-api-key, x-request-id");
      reply.header("access-control-max-age", "600");
      return reply.code(204).send();
    }
  });
}
