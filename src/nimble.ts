/**
 * The composition root: resolve the model, load the engine, serve it over HTTP.
 * Used by `nimble serve` and by library users (`import { createServer } from "nimble"`).
 */
import { startHttpServer, type HttpServer } from "./api/server.js";
import { resolveConfig, type NimbleConfig } from "./config.js";
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
}

export interface NimbleServer extends HttpServer {
  config: NimbleConfig;
  model: ResolvedModel | undefined;
}

/**
 * Starts Nimble. The model reference is resolved (downloaded or generated) before listening;
 * the server then listens at once and reports ready when the model is loaded (`server.ready`).
 */
export async function createServer(options: CreateServerOptions = {}): Promise<NimbleServer> {
  // The same validation and defaults as the CLI's (no environment: a library's caller is explicit).
  const config = resolveConfig(options, {}, undefined);
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
    logLevel: config.logLevel === "info" ? "warn" : config.logLevel,
    metadata,
    embeddingPrefixes: { query: config.embeddingQueryPrefix, passage: config.embeddingPassagePrefix },
    ...(embeddingModel
      ? { embedder: () => EmbeddingEngine.load({
          modelPath: embeddingModel.path, servedName: embeddingModel.name, threads: config.threads || undefined, gpu: config.gpu,
          contextSize: config.embeddingCtxSize, sequences: config.embeddingParallel,
        }) }
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
  return { ...server, config, model };
}
