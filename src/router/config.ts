/**
 * The router's configuration: a zod schema for `router.yaml` (or JSON), overridable by flags and
 * NIMBLE_ROUTER_* variables (flags > environment > file > defaults), with one-line errors that name
 * the offending field. Durations are in seconds, as in Nimble's own options.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "../config.js";

const seconds = z.coerce.number().nonnegative();
const count = z.coerce.number().int().nonnegative();

export const upstreamSchema = z
  .object({
    /** A short name for headers, metrics and logs (default: host:port of the URL). */
    name: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, "use 1-64 letters, digits, '.', '_', ':' or '-'").optional(),
    /** Base URL of an OpenAI-compatible server (with or without a trailing /v1). */
    url: z.string().url(),
    /** The key the router sends to this upstream (Authorization: Bearer); or the variable holding it. */
    apiKey: z.string().min(1).optional(),
    apiKeyEnv: z.string().min(1).optional(),
    /** Models this upstream serves, when its /v1/models should not be asked (otherwise discovered). */
    models: z.array(z.string().min(1)).optional(),
    /** Requests it runs at once, when its /v1/metrics has no num_request_max (vLLM: max_num_seqs). */
    capacity: z.coerce.number().int().positive().default(8),
    /**
     * `dns`: the URL's host name stands for every address it resolves to (a Kubernetes headless
     * Service: one per ready pod), each an upstream of its own, looked up again at every refresh.
     */
    discovery: z.enum(["none", "dns"]).default("none"),
  })
  .strict();

export const routerConfigSchema = z
  .object({
    host: z.string().min(1).default("127.0.0.1"),
    port: z.coerce.number().int().min(0).max(65535).default(8080),
    upstreams: z.array(upstreamSchema).min(1, "give at least one upstream (upstreams: [{url: ...}] or --upstream URL)"),
    routing: z
      .object({
        /** `score`: prefix + load + session + LoRA affinity (below); `round-robin`: each in turn (the baseline). */
        strategy: z.enum(["score", "round-robin"]).default("score"),
        weights: z
          .object({
            prefix: z.coerce.number().nonnegative().default(3),
            load: z.coerce.number().nonnegative().default(2),
            session: z.coerce.number().nonnegative().default(2),
            lora: z.coerce.number().nonnegative().default(1),
          })
          .strict()
          .default({}),
        /** Characters per prefix block (about 16 tokens of English at 64). */
        blockChars: z.coerce.number().int().min(8).max(4096).default(64),
        /** Most leading blocks of a prompt hashed and matched (llm-d's maxPrefixBlocksToMatch): bounds the router's work on long prompts. */
        matchBlocks: z.coerce.number().int().positive().max(65_536).default(256),
        /** How long a prefix is assumed to stay in an upstream's cache. */
        prefixTtl: seconds.default(600),
        /** Most block hashes remembered per upstream (least recently used dropped). */
        prefixBlocks: z.coerce.number().int().positive().default(200_000),
        /** Header carrying a session id; without it, the body's `user` field is the session. */
        sessionHeader: z.string().min(1).toLowerCase().default("x-session-id"),
      })
      .strict()
      .default({}),
    /** How often each upstream's models, health and metrics are read. */
    refreshInterval: seconds.default(5),
    /** Further upstreams tried when one fails before its first byte. */
    retries: count.default(2),
    breaker: z
      .object({
        /** Consecutive failures that open an upstream's circuit. */
        failureThreshold: z.coerce.number().int().positive().default(3),
        /** How long it stays open before one probe request is let through (half-open). */
        cooldown: seconds.default(10),
      })
      .strict()
      .default({}),
    timeouts: z
      .object({
        /** To open a connection to an upstream. */
        connect: seconds.default(5),
        /** From sending a request to its first byte of body (a retry elsewhere after it). 0: none. */
        firstByte: seconds.default(300),
        /** The whole request (0: none). */
        request: seconds.default(600),
        /** A response going silent after its first byte (0: none). */
        idle: seconds.default(300),
      })
      .strict()
      .default({}),
    /** Requests forwarded at once; more wait in the router's queue. */
    maxConcurrent: z.coerce.number().int().positive().default(512),
    /** Requests that may wait; beyond it, 429 at once. */
    maxQueue: count.default(256),
    /** Longest wait in the queue before a 503. */
    queueTimeout: seconds.default(30),
    /** Front-door API keys (admin scope), a key file, and the home folder with `nimble keys` keys. */
    apiKeys: z.array(z.string().min(1)).default([]),
    apiKeyFile: z.string().min(1).optional(),
    home: z.string().min(1).default(join(homedir(), ".cache", "nimble")),
    rateLimit: z.object({ rpm: count.default(0), tpm: count.default(0), concurrency: count.default(0) }).strict().default({}),
    bodyLimit: z.coerce.number().int().positive().default(16 * 1024 * 1024),
    logLevel: z.enum(["silent", "error", "warn", "info", "debug"]).default("info"),
    corsAllowOrigins: z.array(z.string()).default([]),
  })
  .strict();

export type RouterConfig = z.infer<typeof routerConfigSchema>;
export type RouterConfigInput = z.input<typeof routerConfigSchema>;
export type UpstreamConfig = z.infer<typeof upstreamSchema>;

/** Validates a config object; the first problem becomes one line naming its field. */
export function parseRouterConfig(input: unknown, source = "router config"): RouterConfig {
  const parsed = routerConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? issue.path.join(".") : "(top level)";
    const message = issue.code === "unrecognized_keys" ? `unknown field(s) ${issue.keys.join(", ")}` : issue.message;
    throw new ConfigError(`invalid ${where} in ${source}: ${message}`);
  }
  const names = new Set<string>();
  for (const u of parsed.data.upstreams) {
    const name = upstreamName(u);
    if (names.has(name)) throw new ConfigError(`two upstreams are named "${name}" in ${source}: give each a distinct name`);
    names.add(name);
    if (u.apiKeyEnv && !process.env[u.apiKeyEnv]) throw new ConfigError(`upstream "${name}": the variable ${u.apiKeyEnv} (apiKeyEnv) is not set`);
  }
  return parsed.data;
}

export function upstreamName(u: UpstreamConfig): string {
  return u.name ?? new URL(u.url).host;
}

/** The flags `nimble router` takes, already split (commander gives them). */
export interface RouterFlags {
  config?: string;
  upstream?: string[];
  host?: string;
  port?: string;
  strategy?: string;
  apiKey?: string[];
  apiKeyFile?: string;
  home?: string;
  logLevel?: string;
}

/** `--upstream name=URL` or `--upstream URL`. */
export function parseUpstreamFlag(value: string): { name?: string; url: string } {
  const m = /^([A-Za-z0-9._:-]{1,64})=(.+)$/.exec(value);
  return m ? { name: m[1], url: m[2]! } : { url: value };
}

/** Reads the file (if any), then applies environment and flags over it, and validates. */
export function loadRouterConfig(flags: RouterFlags, env: NodeJS.ProcessEnv = process.env): RouterConfig {
  const file = flags.config ?? env.NIMBLE_ROUTER_CONFIG;
  let raw: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new ConfigError(`cannot read router config ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    try {
      raw = (/\.json$/i.test(file) ? JSON.parse(text) : parseYaml(text)) ?? {};
    } catch (err) {
      throw new ConfigError(`router config ${file} is not valid ${/\.json$/i.test(file) ? "JSON" : "YAML"}: ${(err as Error).message.split("\n")[0]}`);
    }
    if (typeof raw !== "object" || Array.isArray(raw)) throw new ConfigError(`router config ${file} must hold an object`);
  }
  const envList = (name: string) => env[name]?.split(",").map((s) => s.trim()).filter(Boolean);
  const pick = <T>(flag: T | undefined, envName: string): T | string | undefined => flag ?? (env[envName] || undefined);
  const upstreams = flags.upstream ?? envList("NIMBLE_ROUTER_UPSTREAMS");
  const over: Record<string, unknown> = {
    host: pick(flags.host, "NIMBLE_ROUTER_HOST"),
    port: pick(flags.port, "NIMBLE_ROUTER_PORT"),
    apiKeys: flags.apiKey ?? envList("NIMBLE_API_KEYS"),
    apiKeyFile: pick(flags.apiKeyFile, "NIMBLE_API_KEY_FILE"),
    home: pick(flags.home, "NIMBLE_HOME"),
    logLevel: pick(flags.logLevel, "NIMBLE_LOG_LEVEL"),
    upstreams: upstreams?.map(parseUpstreamFlag),
  };
  const merged: Record<string, unknown> = { ...raw };
  for (const [k, v] of Object.entries(over)) if (v !== undefined) merged[k] = v;
  const strategy = pick(flags.strategy, "NIMBLE_ROUTER_STRATEGY");
  if (strategy !== undefined) merged.routing = { ...((raw.routing as object | undefined) ?? {}), strategy };
  return parseRouterConfig(merged, file ?? "the router's flags");
}
