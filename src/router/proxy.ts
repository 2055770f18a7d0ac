/**
 * Forwarding one attempt of a request to one upstream, over node:http with keep-alive.
 *
 * Nothing reaches the client until the upstream's first byte of body has arrived: until then a
 * failure (connection refused or reset, a timeout, a 5xx, a 429, a 503 "shutting down", the upstream
 * refusing the router's credentials) is reported back as retryable, and the caller tries another
 * upstream. From the first byte on, the response is committed: the status and headers are sent (in one
 * write with the first chunk) and the body is passed through chunk by chunk, untouched and unbuffered
 * (SSE included), pausing the upstream while the client's buffer is full; a failure after that is never retried
 * (it would duplicate output) — the client's stream ends with an error event (SSE) or is cut.
 * Error responses that are not in OpenAI's shape (plain text from some engines) are wrapped into it.
 * A client that disconnects, or the request's deadline, cancels the upstream request. The attempt's
 * deadlines (connect, first byte, idle) are checked by the router's sweeper (flight.ts): no timers here.
 */
import type { IncomingMessage, IncomingHttpHeaders, ServerResponse } from "node:http";
import { ApiError } from "../api/errors.js";
import type { Flight } from "./flight.js";
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
  /** Cancelled when the client goes away or the request's deadline passes; its sweeper checks the attempt's deadlines. */
  flight: Flight;
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

export function forwardedHeaders(incoming: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const v = incoming[name];
    if (typeof v === "string") out[name] = v;
  }
  return out;
}

/** The upstream's response headers worth passing on, then the router's own (which win). */
function responseHeadersOf(res: IncomingMessage, own: Readonly<Record<string, string | string[] | number>>): Record<string, string | string[] | number> {
  const out: Record<string, string | string[] | number> = {};
  const h = res.headers;
  for (const k in h) {
    const v = h[k];
    if (v !== undefined && !DROPPED_RESPONSE_HEADER.test(k)) out[k] = v;
  }
  for (const k in own) out[k] = own[k]!;
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
    const flight = o.flight;
    let settled = false;
    let committed = false;
    const finish = (outcome: AttemptOutcome) => {
      if (settled) return;
      settled = true;
      flight.watch = undefined;
      flight.offCancel(onCancel);
      resolve(outcome);
    };
    const onCancel = () => {
      req.destroy();
      if (!committed) finish({ kind: "client-gone" });
    };
    if (flight.aborted) return resolve({ kind: "client-gone" });
    const req = upstream.post(o.path, o.headers, o.body.length);
    const retry = (reason: string, error: ApiError, fault = true, drain = false) => {
      req.destroy();
      finish({ kind: "retry", reason, fault, drain, error });
    };
    flight.onCancel(onCancel);

    // Deadlines, checked by the router's sweeper (no timers of its own): connecting (a new socket
    // only), the first byte, then silence after it (the socket's bytes read not moving).
    let connectBy = Infinity;
    const firstByteBy = o.firstByteTimeoutMs > 0 ? performance.now() + o.firstByteTimeoutMs : Infinity;
    let streaming: IncomingMessage | undefined;
    let lastBytes = -1;
    let lastMoved = 0;
    flight.watch = (now) => {
      if (!committed) {
        if (now >= connectBy) retry("connect-timeout", gatewayError(upstream.name, "connection timed out", "upstream_timeout"));
        else if (now >= firstByteBy) retry("first-byte-timeout", new ApiError(504, `Upstream ${upstream.name} sent nothing in ${Math.round(o.firstByteTimeoutMs / 1000)}s.`, "server_error", null, "upstream_timeout"));
      } else if (streaming && o.idleTimeoutMs > 0) {
        const bytes = streaming.socket?.bytesRead ?? lastBytes;
        if (bytes !== lastBytes) [lastBytes, lastMoved] = [bytes, now];
        else if (now - lastMoved >= o.idleTimeoutMs) streaming.destroy(new Error("idle"));
      }
    };
    req.on("socket", (socket) => {
      if ((socket as { connecting?: boolean }).connecting) {
        connectBy = performance.now() + o.connectTimeoutMs;
        socket.once("connect", () => (connectBy = Infinity));
      }
    });
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
      const headers = responseHeadersOf(res, o.responseHeaders);
      const sse = /text\/event-stream/i.test(String(res.headers["content-type"] ?? ""));
      // From here on the client owns the outcome: its disconnect or the deadline cancels the flight, which destroys the upstream request.
      // Headers, the first chunk and (when it follows at once) the end leave in one write: the headers wait
      // corked for the first chunk, and chunks are written two ticks after they arrive, after the upstream
      // response's "end" when it came in the same read (node:http emits it a tick after the last chunk, and
      // would otherwise flush that chunk and the end in two writes: on loopback each costs ~0.05–0.09 ms).
      let corked = false;
      let pending: Buffer[] = [];
      let flushScheduled = false;
      const commit = () => {
        committed = true;
        streaming = res;
        o.client.cork();
        corked = true;
        o.client.writeHead(status, headers);
        o.client.on("drain", () => res.resume());
      };
      const writePending = () => {
        const chunks = pending;
        pending = [];
        let ok = true;
        for (const chunk of chunks) ok = o.client.write(chunk) && ok;
        if (corked) {
          corked = false;
          o.client.uncork();
        }
        if (!ok) res.pause();
      };
      const flushNow = () => {
        flushScheduled = false;
        if (!settled && !o.client.destroyed) writePending();
      };
      const flushNextTick = () => process.nextTick(flushNow);
      const brokeMidway = () => {
        if (settled) return;
        if (!o.client.destroyed && !o.client.writableEnded) {
          writePending();
          if (sse) {
            const err = gatewayError(upstream.name, "it stopped in the middle of the response", "upstream_broken");
            o.client.end(`data: ${JSON.stringify(o.errorBody(err))}\n\n`);
          } else o.client.destroy();
        }
        finish({ kind: "committed", status, failedMidway: true });
      };
      // Passed through chunk by chunk as it comes, pausing the upstream while the client's buffer is full.
      res.on("data", (chunk: Buffer) => {
        if (settled) return;
        if (!committed) commit();
        pending.push(chunk);
        if (!flushScheduled) {
          flushScheduled = true;
          process.nextTick(flushNextTick);
        }
      });
      res.once("end", () => {
        if (settled) return;
        if (!committed) commit();
        for (const chunk of pending) o.client.write(chunk);
        pending = [];
        // end() fully uncorks: the pending chunks, the end and (for an answer in one read) the headers go in one write.
        o.client.end();
        corked = false;
        finish({ kind: "committed", status, failedMidway: false });
      });
      const broke = () => (committed ? brokeMidway() : retry("reset", gatewayError(upstream.name, "connection reset before the first byte")));
      res.on("aborted", broke);
      res.on("error", broke);
      res.on("close", () => { if (committed && !res.complete) brokeMidway(); });
    });
    req.end(o.body);
  });
}

function withRetryAfter(err: ApiError, res: IncomingMessage): ApiError {
  const ra = res.headers["retry-after"];
  return typeof ra === "string" ? new ApiError(err.status, err.message, err.type, err.param, err.code, { "retry-after": ra }) : err;
}
