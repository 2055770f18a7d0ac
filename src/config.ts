/**
 * Nimble's configuration: one typed object, resolved from command-line flags > environment
 * (NIMBLE_*, with NIM's names as aliases) > config file (JSON) > defaults.
 * OPTIONS is the single source of truth: the CLI flags and docs/CONFIGURATION.md's table come from it.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { parseSize } from "./models/size.js";
import { z } from "zod";

const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().nonnegative();
/** A switch: true/false from a flag or a config file, "1"/"0", "true"/"false", "yes"/"no", "on"/"off" from the environment. */
const onOff = z.union([
  z.boolean(),
  z.string().trim().toLowerCase().pipe(z.enum(["1", "true", "yes", "on", "0", "false", "no", "off"], { message: "expected 1/0, true/false, yes/no or on/off" })).transform((v) => ["1", "true", "yes", "on"].includes(v)),
]);
/** A list from a repeated flag, a JSON array, or a comma-separated environment value. */
const stringList = z.preprocess(
  (v) => (typeof v === "string" ? v.split(",") : v),
  z.array(z.string().trim()).transform((a) => a.filter((s) => s.length > 0)),
);

/** A size: bytes (a number the given schema accepts), or a number with a unit (512MiB, 2GB). */
function size(bytes: z.ZodNumber) {
  return z.union([bytes, z.string().min(1)]).transform((v, ctx) => {
    try {
      return typeof v === "number" ? v : parseSize(v);
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
      return z.NEVER;
    }
  });
}
/** A size where 0 = off. */
const sizeOption = size(z.number().int().nonnegative());

export const OPTIONS = {
  model: { flag: "--model <ref>", env: ["NIMBLE_MODEL", "NIM_MODEL_PATH"], schema: z.string().min(1).optional(), default: undefined, description: "GGUF model to serve: a path, hf:owner/repo/file.gguf, hf:owner/repo:QUANT or an https:// URL (pulled once into the home folder's model store, the one `nimble pull` fills). Without it, a random-weight demo model is generated and served." },
  servedModelName: { flag: "--served-model-name <name>", env: ["NIMBLE_SERVED_MODEL_NAME", "NIM_SERVED_MODEL_NAME"], schema: z.string().min(1).optional(), default: undefined, description: "Model id clients use in `model` (default: the file name without .gguf)." },
  embeddingModel: { flag: "--embedding-model <ref>", env: ["NIMBLE_EMBEDDING_MODEL"], schema: z.string().min(1).optional(), default: undefined, description: "GGUF model to serve on /v1/embeddings (a reference like --model's; may be the chat model's file). Without it, /v1/embeddings answers 404." },
  embeddingCtxSize: { flag: "--embedding-ctx-size <tokens>", env: ["NIMBLE_EMBEDDING_CTX_SIZE"], schema: positiveInt.optional(), default: undefined, description: "Most tokens of one /v1/embeddings input (default: the embedding model's training context, at most 8192). Longer inputs are refused unless the request asks to truncate." },
  embeddingParallel: { flag: "--embedding-parallel <n>", env: ["NIMBLE_EMBEDDING_PARALLEL"], schema: positiveInt.max(256).optional(), default: undefined, description: "Inputs (from all waiting requests) decoded together on the embedding model (default: as many as 32768 tokens of KV cache hold at --embedding-ctx-size, at most 32). Needs the native addon; without it inputs are embedded one at a time." },
  embeddingQueryPrefix: { flag: "--embedding-query-prefix <text>", env: ["NIMBLE_EMBEDDING_QUERY_PREFIX"], schema: z.string(), default: "", description: "Text put before inputs sent with input_type \"query\" (e.g. \"search_query: \")." },
  embeddingPassagePrefix: { flag: "--embedding-passage-prefix <text>", env: ["NIMBLE_EMBEDDING_PASSAGE_PREFIX"], schema: z.string(), default: "", description: "Text put before inputs sent with input_type \"passage\" (e.g. \"search_document: \")." },
  loraDir: { flag: "--lora-dir <dir>", env: ["NIMBLE_LORA_DIR", "NIM_PEFT_SOURCE"], schema: z.string().min(1).optional(), default: undefined, description: "Folder of LoRA adapters for the served model: each GGUF adapter in it (NAME.gguf or NAME/*.gguf) is served as model NAME, listed in /v1/models with the base model as parent." },
  loraRefreshInterval: { flag: "--lora-refresh-interval <seconds>", env: ["NIMBLE_LORA_REFRESH_INTERVAL", "NIM_PEFT_REFRESH_INTERVAL"], schema: z.coerce.number().nonnegative(), default: 10, description: "How often the LoRA folder is read again for /v1/models (a request naming an adapter not yet seen reads it at once)." },
  memoryBudget: { flag: "--memory-budget <size>", env: ["NIMBLE_MEMORY_BUDGET"], schema: size(z.number().int().positive()).optional(), default: undefined, description: "Most memory (RAM plus VRAM) the loaded models may take together, e.g. 8GB or 512MiB; the least recently used idle model is unloaded to make room (default: 80% of RAM)." },
  keepAlive: { flag: "--keep-alive <duration>", env: ["NIMBLE_KEEP_ALIVE"], schema: z.union([z.number(), z.string().min(1)]), default: "-1" as string | number, description: "How long a model stays loaded once idle, as Ollama's keep_alive: seconds or a duration (\"10m\"), 0 = unload when idle, -1 = keep. Models in the config file and requests (keep_alive) may set their own." },
  rerankModel: { flag: "--rerank-model <ref>", env: ["NIMBLE_RERANK_MODEL"], schema: z.string().min(1).optional(), default: undefined, description: "Reranker GGUF (a cross-encoder such as bge-reranker; a path or hf:owner/repo/file.gguf) to serve on /v1/ranking and /v1/rerank. Without it, those answer 404. It runs on --threads threads (0: every core node-llama-cpp counts for math)." },
  profile: { flag: "--profile <name>", env: ["NIMBLE_PROFILE", "NIM_MODEL_PROFILE"], schema: z.string().min(1).optional(), default: undefined, description: "Serving profile to use instead of the first that fits (`nimble profiles MODEL` lists them: gpu, gpu-kv-q8, gpu-partial, cpu, cpu-kv-q8, fewer-sequences, shorter-context)." },
  host: { flag: "--host <host>", env: ["NIMBLE_HOST"], schema: z.string().min(1), default: "127.0.0.1", description: "Address to listen on." },
  port: { flag: "--port <port>", env: ["NIMBLE_PORT", "NIM_SERVER_PORT"], schema: z.coerce.number().int().min(0).max(65535), default: 8000, description: "Port to listen on (0 = any free port)." },
  parallel: { flag: "--parallel <n>", env: ["NIMBLE_PARALLEL"], schema: positiveInt.max(256), default: 4, description: "Sequences decoded together (continuous batching slots)." },
  ctxSize: { flag: "--ctx-size <tokens>", env: ["NIMBLE_CTX_SIZE", "NIM_MAX_MODEL_LEN"], schema: positiveInt.optional(), default: undefined, description: "Context per sequence, prompt plus completion (default: the model's training context, at most 4096). Each of the --parallel sequences gets this much." },
  batchSize: { flag: "--batch-size <tokens>", env: ["NIMBLE_BATCH_SIZE"], schema: positiveInt, default: 512, description: "Most tokens decoded in one step (prefill chunk budget)." },
  threads: { flag: "--threads <n>", env: ["NIMBLE_THREADS"], schema: nonNegativeInt, default: 0, description: "CPU threads for decoding; 0 = automatic (every physical core with the persistent thread pool, otherwise measured per step size)." },
  kvCacheRam: { flag: "--kv-cache-ram <size>", env: ["NIMBLE_KV_CACHE_RAM"], schema: sizeOption, default: 1024 ** 3, description: "Host memory for the KV cache tier: when a sequence is given to another request, its KV cells are kept here (least recently used evicted first) and a returning conversation restores them instead of prefilling its history again. 0 = off. Needs the native addon." },
  kvCacheDisk: { flag: "--kv-cache-disk <size>", env: ["NIMBLE_KV_CACHE_DISK"], schema: sizeOption, default: 0, description: "Disk space for the KV cache tier, under the home folder's kv-cache/ (entries evicted from --kv-cache-ram go there; kept across restarts, checked before loading). 0 = off." },
  gpu: { flag: "--gpu <kind>", env: ["NIMBLE_GPU"], schema: z.enum(["auto", "cuda", "vulkan", "metal", "cpu"]), default: "auto" as const, description: "Compute backend: auto (a GPU when one is usable), cuda, vulkan, metal or cpu." },
  maxQueue: { flag: "--max-queue <n>", env: ["NIMBLE_MAX_QUEUE"], schema: nonNegativeInt, default: 64, description: "Requests that may wait for a free sequence; beyond it requests get 429 at once." },
  queueTimeout: { flag: "--queue-timeout <seconds>", env: ["NIMBLE_QUEUE_TIMEOUT"], schema: z.coerce.number().nonnegative(), default: 60, description: "Longest a request waits for a free sequence before a 503 with Retry-After (0 = no limit). Waiting requests of different API keys take turns." },
  bodyLimit: { flag: "--body-limit <bytes>", env: ["NIMBLE_BODY_LIMIT"], schema: positiveInt, default: 4 * 1024 * 1024, description: "Largest request body accepted (413 beyond)." },
  drainTimeout: { flag: "--drain-timeout <seconds>", env: ["NIMBLE_DRAIN_TIMEOUT"], schema: z.coerce.number().nonnegative(), default: 30, description: "On SIGTERM/SIGINT, how long in-flight requests may take to finish before the process exits." },
  home: { flag: "--home <dir>", env: ["NIMBLE_HOME", "NIM_CACHE_PATH"], schema: z.string().min(1), default: join(homedir(), ".cache", "nimble"), description: "Folder of the model store: downloaded, copied-in and generated models (`models/`, with its index.json)." },
  offline: { flag: "--offline", env: ["NIMBLE_OFFLINE", "NIM_DISABLE_MODEL_DOWNLOAD"], schema: onOff, default: false, description: "Never use the network: a model reference that is not already in the home folder's store is an error instead of a download." },
  logLevel: { flag: "--log-level <level>", env: ["NIMBLE_LOG_LEVEL", "NIM_LOG_LEVEL"], schema: z.enum(["silent", "error", "warn", "info", "debug"]), default: "info" as const, description: "Log verbosity of the JSON logs (one line per request at info)." },
  logPrompts: { flag: "--log-prompts", env: ["NIMBLE_LOG_PROMPTS"], schema: onOff, default: false, description: "Put request bodies (prompts) and non-streamed responses (completions) in the request log lines. Off by default: logs carry no prompt or completion text." },
  apiKey: { flag: "--api-key <key>", repeatable: true, env: ["NIMBLE_API_KEYS"], schema: stringList, default: [] as string[], description: "An API key clients must send (Authorization: Bearer or x-api-key); repeat the flag for several, or comma-separate them in the variable. These keys have the admin scope. With any key configured, every route but /v1/health/* needs one." },
  apiKeyFile: { flag: "--api-key-file <file>", env: ["NIMBLE_API_KEY_FILE"], schema: z.string().min(1).optional(), default: undefined, description: "A file of API keys, one per line (# comments), with the admin scope. Keys made with `nimble keys create` are read from the home folder besides." },
  rateLimitRpm: { flag: "--rate-limit-rpm <n>", env: ["NIMBLE_RATE_LIMIT_RPM"], schema: nonNegativeInt, default: 0, description: "Requests per minute per API key, for keys created without --rpm (0 = unlimited)." },
  rateLimitTpm: { flag: "--rate-limit-tpm <n>", env: ["NIMBLE_RATE_LIMIT_TPM"], schema: nonNegativeInt, default: 0, description: "Tokens (prompt + completion) per minute per API key, for keys created without --tpm (0 = unlimited)." },
  rateLimitConcurrency: { flag: "--rate-limit-concurrency <n>", env: ["NIMBLE_RATE_LIMIT_CONCURRENCY"], schema: nonNegativeInt, default: 0, description: "Requests in flight at once per API key, for keys created without --concurrency (0 = unlimited)." },
  maxOutputTokens: { flag: "--max-output-tokens <n>", env: ["NIMBLE_MAX_OUTPUT_TOKENS"], schema: nonNegativeInt, default: 0, description: "Largest max_tokens a request may ask for (400 beyond); requests without max_tokens are capped at it (0 = up to the context size)." },
  maxPromptTokens: { flag: "--max-prompt-tokens <n>", env: ["NIMBLE_MAX_PROMPT_TOKENS"], schema: nonNegativeInt, default: 0, description: "Longest prompt accepted, in tokens (400 beyond; 0 = up to the context size)." },
  requestTimeout: { flag: "--request-timeout <seconds>", env: ["NIMBLE_REQUEST_TIMEOUT"], schema: z.coerce.number().nonnegative(), default: 600, description: "Longest a request may take, queue wait included; then its generation is cancelled and the client gets a 408 (or an error event ending the stream). 0 = no limit." },
  streamIdleTimeout: { flag: "--stream-idle-timeout <seconds>", env: ["NIMBLE_STREAM_IDLE_TIMEOUT"], schema: z.coerce.number().nonnegative(), default: 300, description: "Longest a streamed response may go without sending anything (no token, or a client that stopped reading); then its generation is cancelled and the stream ends with an error event. 0 = no limit." },
  tlsCert: { flag: "--tls-cert <file>", env: ["NIMBLE_TLS_CERT", "NIM_SSL_CERTS_PATH"], schema: z.string().min(1).optional(), default: undefined, description: "PEM certificate (chain) to serve HTTPS with; needs --tls-key." },
  tlsKey: { flag: "--tls-key <file>", env: ["NIMBLE_TLS_KEY", "NIM_SSL_KEY_PATH"], schema: z.string().min(1).optional(), default: undefined, description: "PEM private key of --tls-cert." },
  responsesMaxAge: { flag: "--responses-max-age <seconds>", env: ["NIMBLE_RESPONSES_MAX_AGE"], schema: nonNegativeInt, default: 30 * 24 * 3600, description: "How long stored Responses API responses (`store`, the default) are kept, in seconds; older ones are deleted (0 = no limit). They live in `responses.sqlite` in the home folder." },
  responsesMaxCount: { flag: "--responses-max-count <n>", env: ["NIMBLE_RESPONSES_MAX_COUNT"], schema: nonNegativeInt, default: 10_000, description: "Most stored Responses API responses kept, all keys together; the oldest are deleted first (0 = no limit)." },
  ragStore: { flag: "--rag-store <url>", env: ["NIMBLE_RAG_STORE"], schema: z.string().min(1).optional(), default: undefined, description: "Where vector stores keep their index and records: unset = embedded (LanceDB and a metadata log under the home folder's rag/), or a postgres://user:pass@host/db URL for PostgreSQL with pgvector (index, records and file bytes in tables, shared by several replicas; checked at start)." },
  guardrails: { flag: "--guardrails <file>", env: ["NIMBLE_GUARDRAILS"], schema: z.string().min(1).optional(), default: undefined, description: "Guardrails file (YAML): named configurations of input, retrieval and output rails, the server's default one, moderation settings (docs/GUARDRAILS.md). Requests pick one with guardrails.config_id; an API key may have its own default. An invalid file stops the start with its line." },
  maxFileSize: { flag: "--max-file-size <size>", env: ["NIMBLE_MAX_FILE_SIZE"], schema: size(z.number().int().positive()), default: 512 * 1024 * 1024, description: "Largest file POST /v1/files accepts (streamed to disk under the home folder's rag/files; 413 beyond), e.g. 100MB." },
  corsAllowOrigins: { flag: "--cors-allow-origins <origins>", env: ["NIMBLE_CORS_ALLOW_ORIGINS", "NIM_CORS_ALLOW_ORIGINS"], schema: stringList, default: [] as string[], description: "Browser origins allowed to call the API (comma-separated, e.g. https://app.example.com, or * for any). Empty: CORS is off." },
  ui: { flag: "--no-ui", env: ["NIMBLE_UI"], schema: onOff, default: true, description: "Serve the web playground at / (chat, documents, guardrails, models, metrics; docs/PLAYGROUND.md). --no-ui (or NIMBLE_UI=0) turns it off: / then answers 404." },
  assistantUrl: { flag: "--assistant-url <url>", env: ["NIMBLE_ASSISTANT_URL"], schema: z.string().url().optional(), default: undefined, description: "An OpenAI-compatible server (base URL) whose model drives the playground's Assistant tab (/v1/admin/assistant; docs/ASSISTANT.md); its key from NIMBLE_ASSISTANT_API_KEY. Unset: the chat model this server serves, when it is capable (not the demo model, at least 0.5B parameters)." },
  assistantModel: { flag: "--assistant-model <id>", env: ["NIMBLE_ASSISTANT_MODEL"], schema: z.string().min(1).optional(), default: undefined, description: "The model to use at --assistant-url." },
} as const;

export type OptionName = keyof typeof OPTIONS;

/** One model of the config file's `models` list. */
export const modelEntrySchema = z
  .object({
    id: z.string().min(1),
    aliases: z.array(z.string().min(1)).default([]),
    /** A path, hf:owner/repo/file.gguf, or "demo". */
    source: z.string().min(1),
    kind: z.enum(["chat", "embedding", "rerank"]).default("chat"),
    preload: z.boolean().default(false),
    keepAlive: z.union([z.number(), z.string().min(1)]).optional(),
    parallel: positiveInt.max(256).optional(),
    ctxSize: positiveInt.optional(),
    batchSize: positiveInt.optional(),
    loraDir: z.string().min(1).optional(),
  })
  .strict();

export type ModelEntry = z.infer<typeof modelEntrySchema>;

export type NimbleConfig = { [K in OptionName]: z.infer<(typeof OPTIONS)[K]["schema"]> } & {
  /** Models from the config file, served beside --model. */
  models: ModelEntry[];
};


export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Resolves the configuration. `flags` holds only options given on the command line. */
export function resolveConfig(
  flags: Partial<Record<OptionName, unknown>> = {},
  env: NodeJS.ProcessEnv = process.env,
  configFile: string | undefined = (flags as { config?: string }).config ?? env.NIMBLE_CONFIG,
): NimbleConfig {
  return resolveOptions(Object.keys(OPTIONS) as OptionName[], flags, env, configFile) as NimbleConfig;
}

/** Resolves only some options (commands like `nimble pull` need the home folder, not a port). */
export function resolveOptions<K extends OptionName>(
  names: readonly K[],
  flags: Partial<Record<OptionName, unknown>> = {},
  env: NodeJS.ProcessEnv = process.env,
  configFile: string | undefined = (flags as { config?: string }).config ?? env.NIMBLE_CONFIG,
): Pick<NimbleConfig, K> & { models: ModelEntry[] } {
  let file: Record<string, unknown> = {};
  let models: ModelEntry[] = [];
  if (configFile) {
    try {
      const text = readFileSync(configFile, "utf8");
      file = (/\.ya?ml$/i.test(configFile) ? parseYaml(text) : JSON.parse(text)) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`cannot read config file ${configFile}: ${(err as Error).message.split("\n")[0]}`);
    }
    if (typeof file !== "object" || file === null || Array.isArray(file)) throw new ConfigError(`config file ${configFile} must hold an object of options`);
    for (const key of Object.keys(file)) {
      if (!(key in OPTIONS) && key !== "models") throw new ConfigError(`unknown option "${key}" in config file ${configFile}`);
    }
    const parsed = z.array(modelEntrySchema).optional().safeParse(file.models);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ConfigError(`invalid models.${issue.path.join(".")} in config file ${configFile}: ${issue.message}`);
    }
    models = parsed.data ?? [];
  }
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const opt: (typeof OPTIONS)[OptionName] = OPTIONS[name];
    let raw: unknown = flags[name];
    let source = `--${kebab(name)}`;
    if (raw === undefined) {
      const envName = opt.env.find((e) => env[e] !== undefined && env[e] !== "");
      if (envName) { raw = env[envName]; source = envName; }
    }
    if (raw === undefined && file[name] !== undefined) { raw = file[name]; source = `"${name}" in ${configFile}`; }
    if (raw === undefined) { out[name] = opt.default; continue; }
    const parsed = (opt.schema as z.ZodTypeAny).safeParse(raw);
    if (!parsed.success) throw new ConfigError(`invalid value ${JSON.stringify(raw)} for ${source}: ${parsed.error.issues[0]?.message ?? "invalid"}`);
    out[name] = parsed.data;
  }
  if ((out.tlsCert === undefined) !== (out.tlsKey === undefined)) throw new ConfigError("--tls-cert and --tls-key go together: give both or neither");
  return { ...(out as Pick<NimbleConfig, K>), models };
}

/**
 * The options a user set (flag, environment or config file) rather than left at their defaults:
 * settings a serving profile may change are only those not given.
 */
export function givenOptions(
  flags: Partial<Record<OptionName, unknown>> = {},
  env: NodeJS.ProcessEnv = process.env,
  configFile: string | undefined = (flags as { config?: string }).config ?? env.NIMBLE_CONFIG,
): Set<OptionName> {
  let file: Record<string, unknown> = {};
  if (configFile) {
    try {
      const text = readFileSync(configFile, "utf8");
      file = ((/\.ya?ml$/i.test(configFile) ? parseYaml(text) : JSON.parse(text)) as Record<string, unknown> | null) ?? {};
    } catch {
      // resolveOptions reports an unreadable file.
    }
  }
  const names = Object.keys(OPTIONS) as OptionName[];
  return new Set(names.filter((name) => flags[name] !== undefined || OPTIONS[name].env.some((e) => env[e] !== undefined && env[e] !== "") || (typeof file === "object" && file[name] !== undefined)));
}

export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The options table for docs/CONFIGURATION.md. */
export function optionsMarkdownTable(): string {
  const rows = ["| Flag | Environment | Default | Description |", "|---|---|---|---|"];
  for (const [name, opt] of Object.entries(OPTIONS)) {
    const def = name === "home" ? "`~/.cache/nimble`" : opt.default === undefined || (Array.isArray(opt.default) && opt.default.length === 0) ? "—" : `\`${String(opt.default)}\``;
    rows.push(`| \`${opt.flag}\` | ${opt.env.map((e) => `\`${e}\``).join(", ")} | ${def} | ${opt.description} |`);
  }
  return rows.join("\n");
}
