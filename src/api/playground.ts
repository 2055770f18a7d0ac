/**
 * Serves the web playground (the built files of playground/, in dist/playground) at `/`: every
 * file read once at start, compressed with brotli and gzip on first request and kept in memory;
 * hashed files under /assets/ cached as immutable, index.html revalidated (no-cache, ETag). The
 * page gets a Content-Security-Policy that allows only this server's own scripts, styles and API.
 * Off with --no-ui.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants as zlib, gzipSync } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ApiError } from "./errors.js";

/** Where `npm run build:playground` writes (dist/src/api → dist/playground). */
export const PLAYGROUND_DIR = fileURLToPath(new URL("../../playground", import.meta.url));

/** The page's policy: its own files and API only; no inline script, no eval, no framing. */
export const PLAYGROUND_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};
const COMPRESSIBLE = new Set([".html", ".js", ".css", ".svg", ".json", ".txt"]);

interface StaticFile {
  body: Buffer;
  type: string;
  etag: string;
  immutable: boolean;
  gzip?: Buffer;
  br?: Buffer;
}

function listFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? listFiles(path) : [path];
  });
}

/** The built files by URL path ("/", "/assets/index-abc.js"). */
export function loadPlayground(dir: string = PLAYGROUND_DIR): Map<string, StaticFile> | undefined {
  if (!existsSync(join(dir, "index.html"))) return undefined;
  const files = new Map<string, StaticFile>();
  for (const path of listFiles(dir)) {
    const url = "/" + relative(dir, path).split(sep).join("/");
    const body = readFileSync(path);
    const ext = extname(path).toLowerCase();
    files.set(url === "/index.html" ? "/" : url, {
      body,
      type: TYPES[ext] ?? "application/octet-stream",
      etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
      immutable: url.startsWith("/assets/"),
    });
  }
  return files;
}

/** The best encoding the client accepts among brotli and gzip (q=0 refuses one). */
export function pickEncoding(header: string | undefined): "br" | "gzip" | undefined {
  const accepted = new Map<string, number>();
  for (const part of (header ?? "").split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)).find(Boolean);
    if (name) accepted.set(name, q ? Number(q[1]) : 1);
  }
  const ok = (name: string) => (accepted.get(name) ?? accepted.get("*") ?? 0) > 0;
  return ok("br") ? "br" : ok("gzip") ? "gzip" : undefined;
}

function compressed(file: StaticFile, encoding: "br" | "gzip"): Buffer {
  if (encoding === "br") {
    return (file.br ??= brotliCompressSync(file.body, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: file.body.length } }));
  }
  return (file.gzip ??= gzipSync(file.body, { level: 9 }));
}

function send(request: FastifyRequest, reply: FastifyReply, file: StaticFile): FastifyReply {
  reply.header("content-type", file.type);
  reply.header("cache-control", file.immutable ? "public, max-age=31536000, immutable" : "no-cache");
  reply.header("etag", file.etag);
  reply.header("vary", "accept-encoding");
  if (file.type.startsWith("text/html")) reply.header("content-security-policy", PLAYGROUND_CSP);
  if (request.headers["if-none-match"] === file.etag) return reply.code(304).send();
  const compressible = COMPRESSIBLE.has(extname(request.url.split("?")[0]!)) || file.type.startsWith("text/html");
  const encoding = compressible && file.body.length > 256 ? pickEncoding(request.headers["accept-encoding"]) : undefined;
  if (encoding) reply.header("content-encoding", encoding);
  return reply.send(encoding ? compressed(file, encoding) : file.body);
}

/** Registers `/` and `/assets/*`; without a built playground, `/` says how to build it. */
export function registerPlayground(app: FastifyInstance, dir: string = PLAYGROUND_DIR): void {
  const files = loadPlayground(dir);
  app.get("/", async (request, reply) => {
    const index = files?.get("/");
    if (!index) throw new ApiError(404, "The playground is not built: run `npm run build:playground` (npm ci does it).", "invalid_request_error", null, "not_found");
    return send(request, reply, index);
  });
  app.get("/assets/*", async (request, reply) => {
    const file = files?.get(request.url.split("?")[0]!);
    if (!file) throw new ApiError(404, `Unknown file: ${request.url.split("?")[0]}`, "invalid_request_error", null, "not_found");
    return send(request, reply, file);
  });
}
