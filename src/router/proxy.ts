/**
 * Forwarding one attempt of a request to one upstream, over node:http with keep-alive.
 *
 * Nothing reaches the client until the upstream's first byte of body has arrived: until then a
 * failure (connection refused or reset, a timeout, a 5xx, a 429, a 503 "shutting down", the upstream
 * refusing the router's credentials) is reported back as retryable, and the caller tries another
 * upstream. From the first byte on, the response is committed: the status and headers are sent and the
 * body is piped through untouched and unbuffered (SSE included); a failure after that is never retried
 * (it would duplicate output) — the client's stream ends with an error event (SSE) or is cut.
 * Error responses that are not in OpenAI's shape (plain text from some engines) are wrapped into it.
 * A client that disconnects aborts the upstream request.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import https from "node:https";
import { ApiError } from "../api/errors.js";
import type { Upstream } from "./upstream.js";

export type AttemptOutcome =
  | { kind: "committed"; status: number; failedMidway: boolean }
  | { kind: "client-gone" }
  | { kind: "retry"; reason: string; /** counts against the breaker */ fault: boolean; drain: boolean; error: ApiError; /** a kept-alive connection the upstream had closed: the same upstream may be asked again */ stale?: boolean };

export interface AttemptOptions {
  path: string;
  body: Buffer;
  /** Request headers to pass on (already filtered). */
  headers: Record<string, string>;
  /** Headers the router adds to the client's response. */
  responseHeaders: Record<string, string | string[] | number>;
  client: ServerResponse;
  /** Aborts when the client goes away or the request's deadline passes. */
  signal: AbortSignal;
  connectTimeoutMs: number;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  /** Error bodies in the route's shape (Anthropic's for /v1/messages). */
  errorBody: (err: ApiError) => unknown;
}

/** Client request headers passed on to upstreams; credentials are the upstream's own. */
const FORWARDED_REQUEST_HEADERS = ["content-type", "accept", "x-request-id", "anthropic-version", "anthropic-beta", "openai-beta", "user-agent"];
/** Upstream response headers not passed back: hop-by-hop, the upstream's own rate limits and security headers (the router sets its own). */
const DROPPED_RESPONSE_HEADER = /^(connection|keep-alive|transfer-encoding|upgrade|proxy-.*|te|trailer|x-ratelimit-.*|www-authenticate|set-cookie|x-content-type-options|x-frame-options|content-security-policy|referrer-policy|strict-transport-security|access-control-.*|vary|x-request-id)$/i;

export function forwardedHeaders(incoming: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const v = incoming[name];
    if (typeof v === "string") out[name] = v;
  }
  return out;
}

function responseHeadersOf(res: IncomingMessage): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && !DROPPED_RESPONSE_HEADER.test(k)) out[k] = v;
  return out;
}

/** An upstream's error body in OpenAI's shape: kept when it already is, wrapped when not. */
export function openAiErrorFrom(status: number, text: string, upstream: string): ApiError {
  try {
    const json = JSON.parse(text) as { error?: unknown; message?: unknown; type?: unknown };
    const e = json.error;
    if (e && typeof e === "object" && typeof (e as { message?: unknown }).message === "string") {
      const o = e as { message: string; type?: unknown; param?: unknown; code?: unknown };
      return new ApiError(status, o.message, typeof o.type === "string" ? o.type : typeFor(status), typeof o.param === "string" ? o.param : null, typeof o.code === "string" || typeof o.code === "number" ? String(o.code) : null);
    }
    if (typeof e === "string") return new ApiError(status, e, typeFor(status), null, null); // Ollama: {"error": "..."}
    if (typeof json.message === "string") return new ApiError(status, json.message, typeof json.type === "string" ? json.type : typeFor(status), null, null);
  } catch {
    // not JSON
  }
  const message = text.trim().slice(0, 1000) || `upstream ${upstream} answered HTTP ${status}`;
  return new ApiError(status, message, typeFor(status), null, null);
}

function typeFor(status: number): string {
  if (status === 429) return "rate_limit_error";
  if (status === 503) return "service_unavailable";
  return status >= 500 ? "server_error" : "invalid_request_error";
}

function readAll(res: IncomingMessage, limit = 256 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    res.on("error", reject);
    res.on("aborted", () => reject(new Error("aborted")));
  });
}

const gatewayError = (upstream: string, what: string, code = "upstream_unavailable") =>
  new ApiError(502, `Upstream ${upstream} failed: ${what}.`, "server_error", null, code);

export function attempt(upstream: Upstream, o: AttemptOptions): Promise<AttemptOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    let committed = false;
    const url = upstream.url(o.path);
    const lib = url.protocol === "https:" ? https : http;
    const req = lib.request(url, {
      method: "POST",
      agent: upstream.agent,
      headers: { ...o.headers, ...upstream.credentials(), "content-length": String(o.body.length) },
    });
    const timers: NodeJS.Timeout[] = [];
    const clear = () => { for (const t of timers) clearTimeout(t); o.signal.removeEventListener("abort", onAbort); };
    const finish = (outcome: AttemptOutcome) => {
      if (settled) return;
      settled = true;
      clear();
      resolve(outcome);
    };
    const retry = (reason: string, error: ApiError, fault = true, drain = false) => {
      req.destroy();
      finish({ kind: "retry", reason, fault, drain, error });
    };
    const onAbort = () => {
      req.destroy();
      if (!committed) finish({ kind: "client-gone" });
    };
    if (o.signal.aborted) return onAbort();
    o.signal.addEventListener("abort", onAbort, { once: true });

    // Connect timeout: the socket must connect in time (a reused keep-alive socket is connected already).
    req.on("socket", (socket) => {
      if ((socket as { connecting?: boolean }).connecting) {
        const t = setTimeout(() => retry("connect-timeout", gatewayError(upstream.name, "connection timed out", "upstream_timeout")), o.connectTimeoutMs);
        timers.push(t);
        socket.once("connect", () => clearTimeout(t));
      }
    });
    if (o.firstByteTimeoutMs > 0) timers.push(setTimeout(() => { if (!committed) retry("first-byte-timeout", new ApiError(504, `Upstream ${upstream.name} sent nothing in ${Math.round(o.firstByteTimeoutMs / 1000)}s.`, "server_error", null, "upstream_timeout")); }, o.firstByteTimeoutMs));
    let responded = false;
    req.on("error", (err) => {
      if (committed) return;
      const code = (err as NodeJS.ErrnoException).code;
      // A reused keep-alive connection that the upstream closed meanwhile: the request never reached it.
      if (req.reusedSocket && !responded && (code === "ECONNRESET" || code === "EPIPE")) {
        req.destroy();
        return finish({ kind: "retry", reason: "stale-connection", fault: false, drain: false, stale: true, error: gatewayError(upstream.name, code) });
      }
      retry("connection", gatewayError(upstream.name, code ?? err.message));
    });

    req.on("response", (res) => {
      responded = true;
      const status = res.statusCode ?? 502;
      if (status >= 400) {
        void readAll(res).then(
          (text) => {
            if (settled) return;
            const err = openAiErrorFrom(status, text, upstream.name);
            if (status === 503 && (err.code === "shutting_down" || /shutting down|draining/i.test(err.message))) return retry("draining", err, false, true);
            if (status === 429) return retry("overloaded", withRetryAfter(err, res), false);
            if (status === 401 || status === 403) return retry("credentials", gatewayError(upstream.name, `it refused the router's credentials (HTTP ${status}); check this upstream's apiKey`, "upstream_auth"));
            if (status >= 500) return retry(`http-${status}`, withRetryAfter(err, res), status !== 503);
            committed = true;
            const body = JSON.stringify(o.errorBody(err));
            o.client.writeHead(status, { ...o.responseHeaders, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) });
            o.client.end(body);
            finish({ kind: "committed", status, failedMidway: false });
          },
          () => { if (!committed) retry("reset", gatewayError(upstream.name, "connection reset while reading its error")); },
        );
        return;
      }
      const headers = { ...responseHeadersOf(res), ...o.responseHeaders };
      const sse = /text\/event-stream/i.test(String(res.headers["content-type"] ?? ""));
      let idle: NodeJS.Timeout | undefined;
      const commit = () => {
        committed = true;
        for (const t of timers) clearTimeout(t); // the abort listener stays: a deadline or a client leaving still cancels
        o.client.writeHead(status, headers);
        o.client.flushHeaders();
        if (o.idleTimeoutMs > 0) {
          idle = setTimeout(() => res.destroy(new Error("idle")), o.idleTimeoutMs);
          res.on("data", () => idle?.refresh());
        }
        // After the first byte the client owns the outcome: its disconnect aborts the upstream.
        o.client.once("close", () => { if (!res.complete) req.destroy(); });
      };
      const brokeMidway = () => {
        clearTimeout(idle);
        if (settled) return;
        if (!o.client.destroyed && !o.client.writableEnded) {
          if (sse) {
            const err = gatewayError(upstream.name, "it stopped in the middle of the response", "upstream_broken");
            o.client.end(`data: ${JSON.stringify(o.errorBody(err))}\n\n`);
          } else o.client.destroy();
        }
        finish({ kind: "committed", status, failedMidway: true });
      };
      res.once("data", (first: Buffer) => {
        if (settled) return;
        commit();
        o.client.write(first);
        res.pipe(o.client);
      });
      res.once("end", () => {
        clearTimeout(idle);
        if (!committed) {
          if (settled) return;
          commit();
          o.client.end();
        }
        finish({ kind: "committed", status, failedMidway: false });
      });
      res.on("aborted", () => (committed ? brokeMidway() : retry("reset", gatewayError(upstream.name, "connection reset before the first byte"))));
      res.on("error", () => (committed ? brokeMidway() : retry("reset", gatewayError(upstream.name, "connection reset before the first byte"))));
      res.on("close", () => { if (committed && !res.complete) brokeMidway(); });
    });
    req.end(o.body);
  });
}

function withRetryAfter(err: ApiError, res: IncomingMessage): ApiError {
  const ra = res.headers["retry-after"];
  return typeof ra === "string" ? new ApiError(err.status, err.message, err.type, err.param, err.code, { "retry-after": ra }) : err;
}
