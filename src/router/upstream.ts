/**
 * One upstream server behind the router: where it is and how to authenticate to it, what it serves
 * (from its /v1/models, read again every refresh), whether it is ready (/v1/health/ready, else
 * /health as llama.cpp, vLLM and Ollama answer), whether it is draining (a 503 "shutting down"),
 * how loaded it is (NIM's or vLLM's queue gauges from /v1/metrics, and the requests this router has
 * in flight there), its circuit breaker and its prefix index.
 */
import http from "node:http";
import https from "node:https";
import { CircuitBreaker } from "./breaker.js";
import { PrefixIndex } from "./prefix-index.js";
import { upstreamName, type RouterConfig, type UpstreamConfig } from "./config.js";

export interface ModelCardLike {
  id: string;
  parent?: string | null;
  [k: string]: unknown;
}

export interface UpstreamLoad {
  running: number;
  waiting: number;
  /** Requests it runs at once (num_request_max, else the configured capacity). */
  capacity: number;
}

const PROBE_TIMEOUT_MS = 5000;

/** Reads the gauges the router uses from Prometheus text: NIM's names, or vLLM's (`vllm:` prefix). Summed over label sets. */
export function parseLoadMetrics(text: string): { running?: number; waiting?: number; max?: number } {
  const out: { running?: number; waiting?: number; max?: number } = {};
  const add = (k: keyof typeof out, v: number) => { if (Number.isFinite(v)) out[k] = (out[k] ?? 0) + v; };
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.length === 0) continue;
    const m = /^(?:vllm:)?(num_requests_running|num_requests_waiting|num_request_max)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const v = Number(m[2]);
    add(m[1] === "num_requests_running" ? "running" : m[1] === "num_requests_waiting" ? "waiting" : "max", v);
  }
  return out;
}

export class Upstream {
  readonly name: string;
  /** Base URL without a trailing slash or /v1. */
  readonly base: URL;
  readonly agent: http.Agent;
  readonly breaker: CircuitBreaker;
  readonly prefixes: PrefixIndex;
  models = new Map<string, ModelCardLike>();
  /** Answered its health check at the last refresh (true until the first one says otherwise). */
  ready = false;
  /** Said it is shutting down: no new requests until its health check says ready again. */
  draining = false;
  /** Requests this router has sent it that have not finished. */
  inFlight = 0;
  /** Gauges from its last metrics scrape (undefined when it has none). */
  scraped: { running: number; waiting: number; max?: number } | undefined;
  /** LoRA adapters (models with a parent) it served lately: adapter → when. */
  readonly recentAdapters = new Map<string, number>();
  lastError: string | undefined;
  /** The config entry it comes from (several upstreams share one with DNS discovery). */
  readonly config: UpstreamConfig;
  private readonly authHeader: string | undefined;
  /** What every forwarded request's options share (parsed once, not per request). */
  private readonly target: { lib: typeof http | typeof https; options: http.RequestOptions; prefix: string };
  private readonly staticModels: string[] | undefined;
  private readonly capacityDefault: number;
  private healthPath: string | undefined;
  private metricsAvailable = true;
  private healthFailures = 0;

  constructor(config: UpstreamConfig, routerConfig: RouterConfig, address?: string) {
    this.name = address === undefined ? upstreamName(config) : `${upstreamName(config)}@${address}`;
    const url = new URL(config.url);
    if (address !== undefined) url.hostname = address.includes(":") ? `[${address}]` : address;
    url.pathname = url.pathname.replace(/\/+$/, "").replace(/\/v1$/, "");
    this.base = url;
    this.config = config;
    const key = config.apiKey ?? (config.apiKeyEnv ? process.env[config.apiKeyEnv] : undefined);
    this.authHeader = key ? `Bearer ${key}` : undefined;
    this.staticModels = config.models;
    this.capacityDefault = config.capacity;
    const Agent = url.protocol === "https:" ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true, maxSockets: Infinity, timeout: 0 });
    this.target = {
      lib: url.protocol === "https:" ? https : http,
      options: { protocol: url.protocol, hostname: url.hostname.replace(/^\[|\]$/g, ""), port: url.port === "" ? undefined : Number(url.port), agent: this.agent },
      prefix: url.pathname.replace(/\/+$/, ""),
    };
    this.breaker = new CircuitBreaker(routerConfig.breaker.failureThreshold, routerConfig.breaker.cooldown * 1000);
    this.prefixes = new PrefixIndex(routerConfig.routing.prefixBlocks, routerConfig.routing.prefixTtl * 1000);
    if (this.staticModels) for (const id of this.staticModels) this.models.set(id, { id, object: "model", owned_by: this.name });
  }

  /** Headers every request to it carries (its credential, never the client's). */
  credentials(): Record<string, string> {
    return this.authHeader ? { authorization: this.authHeader } : {};
  }

  /** A POST of `contentLength` bytes to `path` here, over the keep-alive agent, with this upstream's credential. */
  post(path: string, headers: Readonly<Record<string, string>>, contentLength: number): http.ClientRequest {
    const h: Record<string, string> = { ...headers, "content-length": String(contentLength) };
    if (this.authHeader) h.authorization = this.authHeader;
    return this.target.lib.request({ ...this.target.options, path: this.target.prefix + path, method: "POST", headers: h });
  }

  url(path: string): URL {
    return new URL(this.base.pathname.replace(/\/+$/, "") + path, this.base);
  }

  /** Whether new requests may go to it now. */
  available(): boolean {
    return this.ready && !this.draining && this.breaker.allows();
  }

  load(): UpstreamLoad {
    const scraped = this.scraped ? this.scraped.running + this.scraped.waiting : 0;
    const total = Math.max(this.inFlight, scraped);
    const capacity = this.scraped?.max && this.scraped.max > 0 ? this.scraped.max : this.capacityDefault;
    return { running: Math.min(total, capacity), waiting: Math.max(0, total - capacity), capacity };
  }

  /** Reads health, models and metrics; never throws (an unreachable upstream is marked not ready). */
  async refresh(): Promise<void> {
    const health = await this.checkHealth();
    // One missed check (a slow answer on a busy machine) does not take a ready upstream out; two in a row do.
    this.healthFailures = health === "not-ready" ? this.healthFailures + 1 : 0;
    this.ready = health === "ready" || (this.ready && health === "not-ready" && this.healthFailures < 2);
    if (health === "ready") this.draining = false;
    if (health === "draining") this.draining = true;
    if (health !== "ready") return;
    const [models] = await Promise.all([this.staticModels ? undefined : this.get("/v1/models"), this.scrapeMetrics()]);
    if (models && models.status === 200) {
      try {
        const list = (JSON.parse(models.body) as { data?: unknown }).data;
        if (Array.isArray(list)) {
          const next = new Map<string, ModelCardLike>();
          for (const card of list) if (card && typeof (card as ModelCardLike).id === "string") next.set((card as ModelCardLike).id, card as ModelCardLike);
          this.models = next;
        }
      } catch {
        this.lastError = "its /v1/models is not JSON";
      }
    }
  }

  private async checkHealth(): Promise<"ready" | "not-ready" | "draining"> {
    const paths = this.healthPath ? [this.healthPath] : ["/v1/health/ready", "/health"];
    for (const path of paths) {
      const res = await this.get(path);
      if (!res) return "not-ready";
      if (res.status === 404 && !this.healthPath) continue;
      this.healthPath = path;
      if (res.status === 200) return "ready";
      if (res.status === 503 && /shutting down|draining/i.test(res.body)) return "draining";
      this.lastError = `health check ${path} answered ${res.status}`;
      return "not-ready";
    }
    // No health endpoint at all: ready if it lists its models.
    const models = await this.get("/v1/models");
    return models?.status === 200 ? "ready" : "not-ready";
  }

  private async scrapeMetrics(): Promise<void> {
    if (!this.metricsAvailable) return;
    const res = await this.get("/v1/metrics") ?? undefined;
    const fallback = res?.status === 404 ? await this.get("/metrics") : undefined;
    const ok = res?.status === 200 ? res : fallback?.status === 200 ? fallback : undefined;
    if (!ok) {
      if (res?.status === 404 && fallback?.status === 404) this.metricsAvailable = false;
      this.scraped = undefined;
      return;
    }
    const m = parseLoadMetrics(ok.body);
    this.scraped = m.running === undefined && m.waiting === undefined ? undefined : { running: m.running ?? 0, waiting: m.waiting ?? 0, max: m.max };
  }

  /** A small GET with a timeout; undefined when unreachable. */
  get(path: string): Promise<{ status: number; body: string } | undefined> {
    return new Promise((resolve) => {
      const url = this.url(path);
      const req = (url.protocol === "https:" ? https : http).request(url, { method: "GET", agent: this.agent, headers: { accept: "application/json, text/plain", ...this.credentials() }, timeout: PROBE_TIMEOUT_MS }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size <= 4 * 1024 * 1024) chunks.push(c);
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", () => resolve(undefined));
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", (err) => {
        this.lastError = `${path}: ${err.message}`;
        resolve(undefined);
      });
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
