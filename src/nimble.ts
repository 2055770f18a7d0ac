/**
 * The composition root: resolve the model, load the engine, serve it over HTTP.
 * Used by `nimble serve` and by library users (`import { createServer } from "nimble"`).
 */
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { createLogger } from "./api/request-log.js";
import { startHttpServer, type HttpServer } from "./api/server.js";
import { ConfigError, resolveConfig, type NimbleConfig } from "./config.js";
import { KeyRing } from "./keys/store.js";
import { EmbeddingEngine } from "./engine/embedding-engine.js";
import { LlamaEngine } from "./engine/llama-engine.js";
import type { Engine } from "./engine/types.js";
import type { DownloadProgress } from "./models/download.js";
import { resolveModel, type ResolvedModel } from "./models/resolve.js";

export interface CreateServerOptions extends Partial<NimbleConfig> {
  /** Serve this engine instead of loading `model`. */
  engine?: Engine;
  /** Told about model resolution (download, demo generation). */
  onNotice?: (message: string) => void;
  onDownloadProgress?: (p: DownloadProgress) => void;
  onLoadProgress?: (progress: number) => void;
  /** Told about unsafe settings (listening beyond this machine without API keys); logged as warnings without it. */
  onWarning?: (message: string) => void;
  /** Log here instead of to stdout at `logLevel`. */
  logger?: Logger;
}

export interface NimbleServer extends HttpServer {
  config: NimbleConfig;
  model: ResolvedModel | undefined;
  /** The API keys the server accepts (configured and stored). */
  keys: KeyRing;
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host) || /^::ffff:127\./i.test(host);
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`cannot read the TLS ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * Starts Nimble. The model reference is resolved (downloaded or generated) before listening;
 * the server then listens at once and reports ready when the model is loaded (`server.ready`).
 */
export async function createServer(options: CreateServerOptions = {}): Promise<NimbleServer> {
  // The same validation and defaults as the CLI's (no environment: a library's caller is explicit).
  const config = resolveConfig(options, {}, undefined);
  const keys = KeyRing.load({ apiKeys: config.apiKey, apiKeyFile: config.apiKeyFile, home: config.home });
  const tls = config.tlsCert && config.tlsKey ? { cert: readPem(config.tlsCert, "certificate"), key: readPem(config.tlsKey, "key") } : undefined;
  const logger = options.logger ?? createLogger(config.logLevel);
  const warn = options.onWarning ?? ((m: string) => logger.warn(m));
  if (!isLoopback(config.host) && !keys.enabled) {
    warn(`Listening on ${config.host} WITHOUT API KEYS: anyone who can reach this address can use the model and the admin routes. Give keys with --api-key, --api-key-file or \`nimble keys create\`, or listen on 127.0.0.1.`);
  }
  const resolveOptions = { home: config.home, onNotice: options.onNotice, onDownloadProgress: options.onDownloadProgress };
  const model = options.engine ? undefined : await resolveModel(config.model, resolveOptions);
  const embeddingModel = config.embeddingModel === undefined ? undefined : await resolveModel(config.embeddingModel, resolveOptions);
  const settings = {
    parallel: config.parallel,
    ctxSize: config.ctxSize ?? null,
    batchSize: config.batchSize,
    threads: config.threads,
    gpu: config.gpu,
    maxQueue: config.maxQueue,
  };
  const metadata: Record<string, unknown> = { settings };
  const server = await startHttpServer({
    host: config.host,
    port: config.port,
    bodyLimit: config.bodyLimit,
    drainTimeoutMs: config.drainTimeout * 1000,
    logger,
    logPrompts: config.logPrompts,
    keys,
    keyLimits: { rpm: config.rateLimitRpm, tpm: config.rateLimitTpm, concurrency: config.rateLimitConcurrency },
    generationLimits: { maxOutputTokens: config.maxOutputTokens, maxPromptTokens: config.maxPromptTokens },
    requestTimeoutMs: config.requestTimeout * 1000,
    streamIdleTimeoutMs: config.streamIdleTimeout * 1000,
    corsAllowOrigins: config.corsAllowOrigins,
    ...(tls ? { tls } : {}),
    metadata,
    embeddingPrefixes: { query: config.embeddingQueryPrefix, passage: config.embeddingPassagePrefix },
    ...(embeddingModel
      ? { embedder: () => EmbeddingEngine.load({ modelPath: embeddingModel.path, servedName: embeddingModel.name, threads: config.threads || undefined, gpu: config.gpu }) }
      : {}),
    engine:
      options.engine ??
      ((observer) =>
        LlamaEngine.load({
          modelPath: model!.path,
          servedName: config.servedModelName ?? model!.name,
          isDemo: model!.isDemo,
          parallel: config.parallel,
          contextSize: config.ctxSize,
          batchSize: config.batchSize,
          maxQueue: config.maxQueue,
          threads: config.threads || undefined,
          gpu: config.gpu,
          onLoadProgress: options.onLoadProgress,
          observer,
        })),
  });
  void server.ready.then((engine) => {
    if (!(engine instanceof LlamaEngine)) return;
    metadata.hardware = engine.hardware;
    const threads = engine.threads;
    Object.defineProperty(metadata, "threads", {
      enumerable: true,
      get: () => ({ policy: threads.describe(), ...(threads.choices ? { chosen: threads.choices() } : {}) }),
    });
  }, () => {});
  return { ...server, config, model, keys };
}
