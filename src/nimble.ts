/**
 * The composition root: resolve the model, load the engine, serve it over HTTP.
 * Used by `nimble serve` and by library users (`import { createServer } from "nimble-inference"`).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadGuardrailsFile } from "./guardrails/config.js";
import type { Logger } from "pino";
import { createLogger } from "./api/request-log.js";
import { startHttpServer, type HttpServer, type ServedModelSpec } from "./api/server.js";
import { ConfigError, resolveConfig, type ModelEntry, type NimbleConfig } from "./config.js";
import { KeyRing } from "./keys/store.js";
import { parseKeepAlive } from "./engine/model-pool.js";
import { estimateModelMemory } from "./models/memory.js";
import { defaultEmbeddingSequences, EmbeddingEngine } from "./engine/embedding-engine.js";
import { RerankEngine } from "./engine/rerank-engine.js";
import { LlamaEngine } from "./engine/llama-engine.js";
import { setLlamaLogSink } from "./engine/llama-log.js";
import type { Engine } from "./engine/types.js";
import type { DownloadProgress } from "./models/download.js";
import { resolveModel, type ResolvedModel } from "./models/resolve.js";
import type { Retriever } from "./rag/types.js";
import { checkRagStore } from "./rag/open.js";
import type { Profile } from "./models/profiles.js";

export interface CreateServerOptions extends Partial<Omit<NimbleConfig, "models">> {
  /** More models to serve (as in the config file's `models` list). */
  models?: ModelEntry[];
  /** From the chosen serving profile, for the --model: GPU layers and KV cache type. */
  gpuLayers?: number;
  kvCacheType?: "f16" | "q8_0";
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
  /** Searches vector stores for the Responses API's file_search (an in-process Retriever). */
  retriever?: Retriever;
  /** The serving profile chosen for --model and the alternatives (reported in /v1/metadata as `profile`). */
  servingProfiles?: { chosen: string | null; profiles: readonly Profile[] };
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

/** What a served model needs from the configuration (global settings, or a model entry's overrides). */
interface ServingSettings {
  parallel: number;
  ctxSize?: number;
  batchSize: number;
  gpuLayers?: number;
  kvCacheType?: "f16" | "q8_0";
}

/** Runs `fn` once, on first call, and hands every caller the same promise. */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= fn());
}

/** The spec of a generation model read from `resolved()` (resolution, e.g. a download, happens on first use). */
function chatSpec(config: NimbleConfig, id: string, resolved: () => Promise<ResolvedModel>, settings: ServingSettings, extra: Partial<ServedModelSpec> & { onLoadProgress?: (p: number) => void } = {}): ServedModelSpec {
  const { onLoadProgress, ...rest } = extra;
  return {
    id,
    kind: "chat",
    source: id,
    keepAliveMs: parseKeepAlive(config.keepAlive),
    estimateBytes: async () => (await estimateModelMemory((await resolved()).path, { contextSize: settings.ctxSize, sequences: settings.parallel, batchSize: settings.batchSize })).totalBytes,
    load: async (observer) => {
      const model = await resolved();
      return LlamaEngine.load({
        modelPath: model.path,
        servedName: id,
        isDemo: model.isDemo,
        parallel: settings.parallel,
        contextSize: settings.ctxSize,
        batchSize: settings.batchSize,
        gpuLayers: settings.gpuLayers,
        kvCacheType: settings.kvCacheType,
        maxQueue: config.maxQueue,
        queueTimeoutMs: config.queueTimeout * 1000,
        threads: config.threads || undefined,
        kvCacheRamBytes: config.kvCacheRam,
        kvCacheDiskBytes: config.kvCacheDisk,
        kvCacheDir: join(config.home, "kv-cache"),
        gpu: config.gpu,
        onLoadProgress,
        observer,
      });
    },
    ...rest,
  };
}

/** The spec of an embedding model or a reranker: one pooled vector, or one score, per input. */
function poolingSpec(config: NimbleConfig, kind: "embedding" | "rerank", id: string, resolved: () => Promise<ResolvedModel>, extra: Partial<ServedModelSpec> = {}): ServedModelSpec {
  const load = async () => {
    const modelPath = (await resolved()).path;
    const common = { modelPath, servedName: id, threads: config.threads || undefined, gpu: config.gpu };
    return kind === "embedding" ? EmbeddingEngine.load({ ...common, contextSize: config.embeddingCtxSize, sequences: config.embeddingParallel }) : RerankEngine.load(common);
  };
  return {
    id,
    kind,
    source: id,
    keepAliveMs: parseKeepAlive(config.keepAlive),
    estimateBytes: async () => {
      const contextSize = (kind === "embedding" ? config.embeddingCtxSize : undefined) ?? 8192;
      const sequences = kind === "embedding" ? (config.embeddingParallel ?? defaultEmbeddingSequences(contextSize)) : 1;
      return (await estimateModelMemory((await resolved()).path, { embedding: true, contextSize, sequences })).totalBytes;
    },
    load,
    ...extra,
  };
}

/** The models of the config file's `models` list. */
function configuredSpecs(config: NimbleConfig, resolveOptions: Parameters<typeof resolveModel>[1]): ServedModelSpec[] {
  return config.models.map((entry) => {
    const resolved = once(() => resolveModel(entry.source, resolveOptions));
    const extra: Partial<ServedModelSpec> = {
      aliases: entry.aliases,
      source: entry.source,
      preload: entry.preload,
      keepAliveMs: parseKeepAlive(entry.keepAlive ?? config.keepAlive),
      ...(entry.loraDir ? { lora: { dir: entry.loraDir, refreshMs: config.loraRefreshInterval * 1000 } } : {}),
    };
    if (entry.kind !== "chat") return poolingSpec(config, entry.kind, entry.id, resolved, extra);
    return chatSpec(config, entry.id, resolved, { parallel: entry.parallel ?? config.parallel, ctxSize: entry.ctxSize ?? config.ctxSize, batchSize: entry.batchSize ?? config.batchSize }, extra);
  });
}

/**
 * Starts Nimble. Model references are resolved (downloaded or generated) before listening; the
 * server then listens at once and reports ready when the default model is loaded (`server.ready`).
 */
export async function createServer(options: CreateServerOptions = {}): Promise<NimbleServer> {
  // The same validation and defaults as the CLI's (no environment: a library's caller is explicit).
  const config = { ...resolveConfig(options, {}, undefined), ...(options.models ? { models: options.models } : {}) };
  const keys = KeyRing.load({ apiKeys: config.apiKey, apiKeyFile: config.apiKeyFile, home: config.home });
  // An invalid guardrails file stops the start here, naming its line.
  const guardrails = config.guardrails ? loadGuardrailsFile(config.guardrails) : undefined;
  const tls = config.tlsCert && config.tlsKey ? { cert: readPem(config.tlsCert, "certificate"), key: readPem(config.tlsKey, "key") } : undefined;
  const logger = options.logger ?? createLogger(config.logLevel);
  const warn = options.onWarning ?? ((m: string) => logger.warn(m));
  // llama.cpp's log lines that reach node-llama-cpp's logger, as JSON lines at their level (a grammar that does not parse is a 400 and debug).
  setLlamaLogSink((level, message) => logger[level]({ component: "llama.cpp" }, message));
  if (!isLoopback(config.host) && !keys.enabled) {
    warn(`Listening on ${config.host} WITHOUT API KEYS: anyone who can reach this address can use the model and the admin routes. Give keys with --api-key, --api-key-file or \`nimble keys create\`, or listen on 127.0.0.1.`);
  }
  const resolveOptions = { home: config.home, offline: config.offline, onNotice: options.onNotice, onDownloadProgress: options.onDownloadProgress };
  // Without --model, a config file's models are what is served; with neither, the demo model.
  const model = options.engine || (config.model === undefined && config.models.some((m) => m.kind === "chat")) ? undefined : await resolveModel(config.model, resolveOptions);
  const embeddingModel = config.embeddingModel === undefined ? undefined : await resolveModel(config.embeddingModel, resolveOptions);
  const rerankModel = config.rerankModel === undefined ? undefined : await resolveModel(config.rerankModel, resolveOptions);
  const settings = {
    parallel: config.parallel,
    ctxSize: config.ctxSize ?? null,
    batchSize: config.batchSize,
    threads: config.threads,
    gpu: config.gpu,
    maxQueue: config.maxQueue,
    queueTimeout: config.queueTimeout,
    memoryBudget: config.memoryBudget ?? null,
    keepAlive: config.keepAlive,
  };
  const metadata: Record<string, unknown> = { settings, ...(options.servingProfiles ? { profile: options.servingProfiles } : {}) };
  const lora = config.loraDir ? { lora: { dir: config.loraDir, refreshMs: config.loraRefreshInterval * 1000 } } : {};
  const models: ServedModelSpec[] = [];
  if (options.engine) {
    const engine = options.engine;
    models.push({ id: engine.info.id, kind: "chat", source: engine.info.path, estimateBytes: async () => 0, load: async () => engine, ...lora });
  } else if (model) {
    const settings = { ...config, gpuLayers: options.gpuLayers, kvCacheType: options.kvCacheType };
    models.push(chatSpec(config, config.servedModelName ?? model.name, async () => model, settings, { source: model.path, onLoadProgress: options.onLoadProgress, ...lora }));
  }
  // The embedding model may be the chat model's file: then it answers to the same name on
  // /v1/embeddings, under an id of its own (`<name>-embedding`) for listings and the admin API.
  for (const [kind, side] of [["embedding", embeddingModel], ["rerank", rerankModel]] as const) {
    if (!side) continue;
    const taken = models.some((m) => m.id === side.name);
    const id = taken ? `${side.name}-${kind}` : side.name;
    models.push(poolingSpec(config, kind, id, async () => side, { source: side.path, preload: true, aliases: taken ? [side.name] : [] }));
  }
  models.push(...configuredSpecs(config, resolveOptions));
  // A --rag-store that cannot be used stops the start here (a replica must not serve without its shared store).
  if (config.ragStore) await checkRagStore(config.ragStore);
  const server = await startHttpServer({
    host: config.host,
    port: config.port,
    bodyLimit: config.bodyLimit,
    drainTimeoutMs: config.drainTimeout * 1000,
    fitTimeoutMs: config.queueTimeout * 1000,
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
    models,
    store: { home: config.home, offline: config.offline },
    responses: { path: join(config.home, "responses.sqlite"), maxAgeSeconds: config.responsesMaxAge, maxCount: config.responsesMaxCount },
    ...(options.retriever ? { retriever: options.retriever } : {}),
    ...(guardrails ? { guardrails } : {}),
    ui: config.ui,
    assistant: { ...(config.assistantUrl ? { url: config.assistantUrl } : {}), ...(config.assistantModel ? { model: config.assistantModel } : {}), ...(process.env.NIMBLE_ASSISTANT_API_KEY ? { apiKey: process.env.NIMBLE_ASSISTANT_API_KEY } : {}) },
    rag: { home: config.home, maxFileBytes: config.maxFileSize, ...(config.ragStore ? { storeUrl: config.ragStore } : {}) },
    ...(config.memoryBudget !== undefined ? { memoryBudgetBytes: config.memoryBudget } : {}),
  });
  void server.ready.then((engine) => {
    if (!(engine instanceof LlamaEngine)) return;
    metadata.hardware = engine.hardware;
    const threads = engine.threads;
    Object.defineProperty(metadata, "threads", {
      enumerable: true,
      get: () => ({ policy: threads.describe(), ...(threads.choices ? { chosen: threads.choices() } : {}), ...(threads.state ? { contention: threads.state() } : {}) }),
    });
  }, () => {});
  // (Assigned, not spread: the server has live getters.)
  return Object.assign(server, { config, model, keys });
}
