/**
 * The models one server offers, loaded on demand within a memory budget. A request leases its
 * model (loading it first if needed; requests that arrive during the load wait for it); a model
 * with no lease is idle, and idle models are unloaded least recently used first when another
 * must fit, or when their keep-alive runs out (Ollama's semantics: a duration, 0 = unload as soon
 * as idle, -1 = keep). Nothing here knows about HTTP.
 */

export type ModelKind = "chat" | "embedding" | "rerank";

/** Something loaded that the pool can account for and release. */
export interface PooledModel {
  close(timeoutMs?: number): Promise<void>;
}

export interface ModelSpec<M extends PooledModel = PooledModel> {
  id: string;
  aliases?: string[];
  kind: ModelKind;
  /** Where it comes from (a path or reference), for listings. */
  source: string;
  /** Bytes it will take once loaded (weights and caches, RAM plus VRAM). */
  estimateBytes(): Promise<number>;
  load(): Promise<M>;
  /** Loaded when the pool starts. */
  preload?: boolean;
  /** How long it stays loaded once idle, in ms; -1 = until evicted for another model, 0 = unload when idle. */
  keepAliveMs?: number;
}

export type ModelState = "unloaded" | "loading" | "loaded" | "unloading" | "failed";

export interface ModelStatus {
  id: string;
  aliases: string[];
  kind: ModelKind;
  source: string;
  state: ModelState;
  /** Estimated bytes while loaded (or loading). */
  memoryBytes: number;
  /** Requests holding the model now. */
  leases: number;
  /** ms since epoch of the last lease, 0 = never. */
  lastUsed: number;
  error?: string;
}

export class ModelNotFoundError extends Error {
  constructor(readonly model: string) {
    super(`The model '${model}' does not exist.`);
    this.name = "ModelNotFoundError";
  }
}

export class ModelLoadError extends Error {
  constructor(readonly model: string, cause: string) {
    super(`The model '${model}' could not be loaded: ${cause}`);
    this.name = "ModelLoadError";
  }
}

/** The model cannot fit in the budget, even after unloading every idle model. */
export class MemoryBudgetError extends Error {
  constructor(readonly model: string, readonly neededBytes: number, readonly budgetBytes: number, readonly busy: string[]) {
    super(
      `The model '${model}' needs about ${gib(neededBytes)} but the memory budget is ${gib(budgetBytes)}` +
        (busy.length ? ` and ${busy.join(", ")} ${busy.length === 1 ? "is" : "are"} busy; retry later` : "; raise --memory-budget or give the model a smaller context"),
    );
    this.name = "MemoryBudgetError";
  }
}

function gib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

interface Entry<M extends PooledModel> {
  spec: ModelSpec<M>;
  state: ModelState;
  model?: M;
  loading?: Promise<M>;
  unloading?: Promise<void>;
  bytes: number;
  leases: number;
  lastUsed: number;
  /** Order of last use (a counter: many uses can share a millisecond). */
  useOrder: number;
  /** The keep-alive of the last request that used it (Ollama: the latest request decides). */
  keepAliveMs: number;
  timer?: NodeJS.Timeout;
  error?: string;
}

export interface Lease<M extends PooledModel> {
  id: string;
  model: M;
  /** Ends the lease; idempotent. `keepAliveMs` overrides the model's keep-alive from now on. */
  release(keepAliveMs?: number): void;
}

export interface PoolEvents {
  onLoaded?(id: string, kind: ModelKind, model: PooledModel, ms: number): void;
  onUnloaded?(id: string, reason: "idle" | "evicted" | "requested"): void;
}

export class ModelPool<M extends PooledModel = PooledModel> {
  private readonly entries = new Map<string, Entry<M>>();
  /** Name (id or alias) → the ids it stands for: one per kind at most (a chat and an embedding model may share a name). */
  private readonly names = new Map<string, string[]>();
  /** Leases waiting for memory to free up. */
  private waiters: (() => void)[] = [];
  private closed = false;
  private uses = 0;

  constructor(
    specs: ModelSpec<M>[],
    /** Most bytes loaded models may take together. */
    readonly budgetBytes: number,
    private readonly events: PoolEvents = {},
    /** How long a lease waits for busy models to become idle so that its model fits. */
    private readonly fitTimeoutMs = 60_000,
  ) {
    const kinds = new Map(specs.map((s) => [s.id, s.kind]));
    for (const spec of specs) {
      if (this.entries.has(spec.id)) throw new Error(`model id "${spec.id}" is used twice`);
      for (const name of [spec.id, ...(spec.aliases ?? [])]) {
        const ids = this.names.get(name) ?? [];
        if (ids.some((id) => kinds.get(id) === spec.kind)) throw new Error(`model name "${name}" is used twice`);
        this.names.set(name, [...ids, spec.id]);
      }
      this.entries.set(spec.id, { spec, state: "unloaded", bytes: 0, leases: 0, lastUsed: 0, useOrder: 0, keepAliveMs: spec.keepAliveMs ?? -1 });
    }
  }

  /** The model id a name (id or alias) stands for: the one of `kind` if given and there is one, else the first. */
  resolve(name: string, kind?: ModelKind): string | undefined {
    const ids = this.names.get(name);
    if (!ids) return undefined;
    return (kind && ids.find((id) => this.entries.get(id)!.spec.kind === kind)) || ids[0];
  }

  /** Loads the preload models (in order); rejects with the first failure. */
  async preload(): Promise<void> {
    for (const e of this.entries.values()) if (e.spec.preload) await this.ensureLoaded(e);
  }

  status(): ModelStatus[] {
    return [...this.entries.values()].map((e) => ({
      id: e.spec.id,
      aliases: e.spec.aliases ?? [],
      kind: e.spec.kind,
      source: e.spec.source,
      state: e.state,
      memoryBytes: e.state === "unloaded" || e.state === "failed" ? 0 : e.bytes,
      leases: e.leases,
      lastUsed: e.lastUsed,
      ...(e.error ? { error: e.error } : {}),
    }));
  }

  /** The loaded model of an id, without leasing it (undefined unless loaded). */
  peek(id: string): M | undefined {
    const e = this.entries.get(id);
    return e?.state === "loaded" ? e.model : undefined;
  }

  /** Leases a model by name, loading it first if needed (waiting for a load already under way). */
  async acquire(name: string): Promise<Lease<M>> {
    if (this.closed) throw new Error("The server is shutting down.");
    const id = this.resolve(name);
    const entry = id === undefined ? undefined : this.entries.get(id);
    if (!entry) throw new ModelNotFoundError(name);
    // Held while loading, so that the model is not evicted for another before this request runs.
    entry.leases++;
    this.cancelTimer(entry);
    let model: M;
    try {
      model = await this.ensureLoaded(entry);
    } catch (err) {
      entry.leases--;
      throw err;
    }
    entry.lastUsed = Date.now();
    entry.useOrder = ++this.uses;
    let released = false;
    return {
      id: entry.spec.id,
      model,
      release: (keepAliveMs) => {
        if (released) return;
        released = true;
        entry.leases--;
        entry.lastUsed = Date.now();
        entry.useOrder = ++this.uses;
        if (keepAliveMs !== undefined) entry.keepAliveMs = keepAliveMs;
        if (entry.leases === 0) this.becameIdle(entry);
      },
    };
  }

  /** Loads a model now (admin). */
  async load(name: string): Promise<void> {
    const lease = await this.acquire(name);
    lease.release();
  }

  /** Unloads a model now (admin); waits for its requests to finish (up to timeoutMs). */
  async unload(name: string, timeoutMs = 30_000): Promise<void> {
    const id = this.resolve(name);
    const entry = id === undefined ? undefined : this.entries.get(id);
    if (!entry) throw new ModelNotFoundError(name);
    if (entry.loading) await entry.loading.catch(() => {});
    await this.unloadEntry(entry, "requested", timeoutMs);
  }

  /** Unloads everything (waiting up to timeoutMs for running requests). */
  async close(timeoutMs = 30_000): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w();
    await Promise.all([...this.entries.values()].map(async (e) => {
      if (e.loading) await e.loading.catch(() => {});
      await this.unloadEntry(e, "requested", timeoutMs);
    }));
  }

  private async ensureLoaded(entry: Entry<M>): Promise<M> {
    for (;;) {
      if (entry.state === "loaded") return entry.model!;
      if (entry.loading) return entry.loading;
      if (entry.unloading) {
        await entry.unloading;
        continue;
      }
      entry.loading = this.loadEntry(entry).finally(() => (entry.loading = undefined));
      return entry.loading;
    }
  }

  private async loadEntry(entry: Entry<M>): Promise<M> {
    const started = performance.now();
    entry.state = "loading";
    entry.error = undefined;
    try {
      entry.bytes = await entry.spec.estimateBytes();
      await this.makeRoom(entry);
      const model = await entry.spec.load();
      entry.model = model;
      entry.state = "loaded";
      this.events.onLoaded?.(entry.spec.id, entry.spec.kind, model, performance.now() - started);
      if (entry.leases === 0) this.becameIdle(entry);
      return model;
    } catch (err) {
      entry.state = "failed";
      entry.error = (err as Error).message;
      entry.bytes = 0;
      this.wakeWaiters();
      if (err instanceof MemoryBudgetError) throw err;
      throw new ModelLoadError(entry.spec.id, (err as Error).message.split("\n")[0]!);
    }
  }

  private usedBytes(except?: Entry<M>): number {
    let used = 0;
    for (const e of this.entries.values()) if (e !== except && e.state !== "unloaded" && e.state !== "failed") used += e.bytes;
    return used;
  }

  /** Unloads idle models, least recently used first, until `entry` fits; waits for busy ones if it must. */
  private async makeRoom(entry: Entry<M>): Promise<void> {
    if (entry.bytes > this.budgetBytes) throw new MemoryBudgetError(entry.spec.id, entry.bytes, this.budgetBytes, []);
    const deadline = performance.now() + this.fitTimeoutMs;
    while (this.usedBytes(entry) + entry.bytes > this.budgetBytes) {
      const idle = [...this.entries.values()]
        .filter((e) => e !== entry && e.state === "loaded" && e.leases === 0)
        .sort((a, b) => a.useOrder - b.useOrder)[0];
      if (idle) {
        await this.unloadEntry(idle, "evicted");
        continue;
      }
      const busy = [...this.entries.values()].filter((e) => e !== entry && e.state !== "unloaded" && e.state !== "failed").map((e) => e.spec.id);
      const remaining = deadline - performance.now();
      if (remaining <= 0 || this.closed) throw new MemoryBudgetError(entry.spec.id, entry.bytes, this.budgetBytes, busy);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  private becameIdle(entry: Entry<M>): void {
    this.wakeWaiters();
    if (entry.state !== "loaded" || this.closed) return;
    this.cancelTimer(entry);
    if (entry.keepAliveMs === 0) void this.unloadEntry(entry, "idle");
    else if (entry.keepAliveMs > 0) {
      entry.timer = setTimeout(() => {
        if (entry.leases === 0) void this.unloadEntry(entry, "idle");
      }, entry.keepAliveMs);
      entry.timer.unref();
    }
  }

  private cancelTimer(entry: Entry<M>): void {
    if (entry.timer) clearTimeout(entry.timer);
    entry.timer = undefined;
  }

  private wakeWaiters(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private unloadEntry(entry: Entry<M>, reason: "idle" | "evicted" | "requested", timeoutMs = 30_000): Promise<void> {
    if (entry.unloading) return entry.unloading;
    if (entry.state !== "loaded" || !entry.model) return Promise.resolve();
    this.cancelTimer(entry);
    const model = entry.model;
    entry.state = "unloading";
    entry.unloading = model
      .close(timeoutMs)
      .catch(() => {})
      .then(() => {
        entry.model = undefined;
        entry.state = "unloaded";
        entry.bytes = 0;
        entry.unloading = undefined;
        this.events.onUnloaded?.(entry.spec.id, reason);
        this.wakeWaiters();
      });
    return entry.unloading;
  }
}

/**
 * Ollama's keep_alive: a number of seconds, or a duration such as "30s", "10m", "1h", "1h30m";
 * negative keeps the model loaded, 0 unloads it as soon as it is idle. Returns ms, or -1 for "keep".
 */
export function parseKeepAlive(value: string | number): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`keep_alive must be finite, got ${value}`);
    return value < 0 ? -1 : Math.round(value * 1000);
  }
  const text = value.trim();
  // An empty duration would otherwise add up to 0 ms, i.e. "unload at once".
  if (text === "") throw new Error("keep_alive must be seconds or a duration like \"30s\", \"10m\" or \"1h\", got an empty string");
  if (/^-?\d+(\.\d+)?$/.test(text)) return parseKeepAlive(Number(text));
  if (text.startsWith("-")) return -1;
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let ms = 0;
  let rest = text;
  while (rest.length > 0) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    if (!m) throw new Error(`keep_alive must be seconds or a duration like "30s", "10m" or "1h", got "${value}"`);
    ms += Number(m[1]) * units[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return Math.round(ms);
}
