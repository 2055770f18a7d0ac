/**
 * Authentication and scopes. When any API key exists, every route needs one (`Authorization:
 * Bearer <key>` or `x-api-key: <key>`) except the public ones, and admin routes need the admin
 * scope. Which route needs what is decided by ACCESS_RULES on the route's registered pattern
 * (never the raw URL, which may be percent-encoded): a route no rule names needs an inference key,
 * so a new route is protected without anyone remembering to protect it.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { findKey, type KeyLimits, type KeyRing, type Scope } from "../../keys/store.js";
import { ApiError } from "../errors.js";

export type Access = "public" | Scope;

/** First match wins; `prefix` rules match every route below them. */
export const ACCESS_RULES: readonly { path: string; prefix?: boolean; access: Access }[] = [
  { path: "/v1/health/", prefix: true, access: "public" },
  // The playground's page and files (it asks for a key itself, for the API calls it makes).
  { path: "/", access: "public" },
  { path: "/assets/", prefix: true, access: "public" },
  { path: "/v1/admin/", prefix: true, access: "admin" },
  { path: "/v1/metrics", access: "admin" },
  { path: "/v1/metadata", access: "admin" },
];

/** What a route (its registered pattern; undefined for unknown routes) needs. */
export function routeAccess(pattern: string | undefined): Access {
  if (pattern === undefined) return "inference";
  for (const rule of ACCESS_RULES) {
    if (rule.prefix ? pattern.startsWith(rule.path) : pattern === rule.path) return rule.access;
  }
  return "inference";
}

/** The key a request was authenticated with: its name (for logs and metrics), never the key. */
export interface ApiKeyIdentity {
  name: string;
  scope: Scope;
  limits: KeyLimits;
  /** The key's SHA-256 (hex): a stable identity for data a key owns (stored responses), unlike its positional name. */
  hash: string;
  /** The key's default guardrails configuration. */
  guardrails?: string;
}

declare module "fastify" {
  interface FastifyRequest {
    /** The authenticated key; null when no keys are configured or on public routes. */
    apiKey: ApiKeyIdentity | null;
  }
}

/** The key a request presents, from `Authorization: Bearer` or `x-api-key`. */
export function presentedKey(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (typeof auth === "string") {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
    if (m) return m[1];
  }
  const header = request.headers["x-api-key"];
  return typeof header === "string" && header.length > 0 ? header.trim() : undefined;
}

export function unauthorized(message: string): ApiError {
  return new ApiError(401, message, "invalid_request_error", null, "invalid_api_key", { "www-authenticate": 'Bearer realm="nimble"' });
}

export function forbidden(message: string): ApiError {
  return new ApiError(403, message, "invalid_request_error", null, "insufficient_scope");
}

export function registerAuth(app: FastifyInstance, keys: KeyRing): void {
  app.decorateRequest("apiKey", null);
  app.addHook("onRequest", async (request) => {
    const access = routeAccess(request.routeOptions.url);
    if (access === "public") return;
    const entries = keys.entries();
    if (entries.length === 0) return;
    const presented = presentedKey(request);
    if (presented === undefined) {
      throw unauthorized("This server requires an API key: send it as 'Authorization: Bearer <key>' (or in an 'x-api-key' header).");
    }
    const entry = findKey(entries, presented);
    if (!entry) throw unauthorized("Incorrect API key provided.");
    if (access === "admin" && entry.scope !== "admin") {
      throw forbidden(`This route needs an API key with the admin scope; key '${entry.name}' has the ${entry.scope} scope.`);
    }
    request.apiKey = { name: entry.name, scope: entry.scope, limits: entry.limits, hash: entry.hash.toString("hex"), ...(entry.guardrails ? { guardrails: entry.guardrails } : {}) };
  });
}
