/**
 * How many CPU threads a decode step uses, chosen by measurement.
 *
 * llama.cpp's CPU threads synchronise at every graph node, and Node's own threads need a core
 * between steps, so more threads is not always faster. On a 2-core machine a 1-token step ran
 * 2.6× faster on 1 thread than on 2, while a 16-token step ran 1.5× faster on 2 (numbers in
 * docs/BENCHMARKS.md). The best choice depends on the machine, the model and the batch size, so
 * the tuner measures it: steps are grouped by size (powers of two), each candidate thread count
 * is timed several times per group, and the fastest per token is used, re-checked now and then.
 */

export interface ThreadTuner {
  /** Threads to use for a step of `batchTokens` tokens. */
  choose(batchTokens: number): number;
  /** Reports how long a step took with the threads `choose` returned. */
  record(batchTokens: number, threads: number, ms: number): void;
  /** For the startup log and /v1/metadata. */
  describe(): string;
  /** The thread count chosen per step-size group, where it is chosen by measurement. */
  choices?(): Record<string, number>;
}

/** Always the same thread count. */
export class FixedThreads implements ThreadTuner {
  constructor(private readonly threads: number, private readonly why: string) {}
  choose(): number {
    return this.threads;
  }
  record(): void {}
  describe(): string {
    return `${this.threads} (${this.why})`;
  }
}

interface Sample {
  /** Exponentially weighted mean of ms per token. */
  msPerToken: number;
  count: number;
}

export class AdaptiveThreads implements ThreadTuner {
  private readonly candidates: number[];
  private readonly groups = new Map<number, { samples: Map<number, Sample>; steps: number; burst?: { threads: number; left: number } }>();
  /** Thread count of the previous step, and how many steps since it changed. */
  private lastThreads = 0;
  private sinceSwitch = 0;

  /**
   * @param maxThreads physical cores to use at most
   * @param samplesPerCandidate timed steps per candidate before trusting the mean
   * @param recheckEvery steps of a group between re-measuring another candidate
   * @param burst steps a re-measurement lasts (the first `warmup` after a change of thread count are not counted)
   */
  constructor(
    readonly maxThreads: number,
    private readonly samplesPerCandidate = 8,
    private readonly recheckEvery = 256,
    private readonly burst = 6,
    private readonly warmup = 2,
  ) {
    const set = new Set([maxThreads, Math.max(1, Math.floor(maxThreads / 2)), Math.max(1, maxThreads - 1), 1]);
    this.candidates = [...set].sort((a, b) => b - a);
  }

  private group(batchTokens: number) {
    const key = Math.ceil(Math.log2(Math.max(1, batchTokens)));
    let g = this.groups.get(key);
    if (!g) {
      g = { samples: new Map(), steps: 0 };
      this.groups.set(key, g);
    }
    return g;
  }

  choose(batchTokens: number): number {
    if (this.candidates.length === 1) return this.candidates[0]!;
    const g = this.group(batchTokens);
    g.steps++;
    if (g.burst) return g.burst.threads;
    // Measure each candidate over consecutive steps (a thread count is slow for a step or two
    // after a change), then use the fastest, re-measuring another one in a short burst now and then.
    const learning = this.candidates.find((c) => (g.samples.get(c)?.count ?? 0) < this.samplesPerCandidate);
    if (learning !== undefined) return learning;
    const best = this.best(g.samples);
    if (g.steps % this.recheckEvery === 0) {
      const others = this.candidates.filter((c) => c !== best);
      g.burst = { threads: others[(g.steps / this.recheckEvery) % others.length]!, left: this.burst };
      return g.burst.threads;
    }
    return best;
  }

  record(batchTokens: number, threads: number, ms: number): void {
    const g = this.group(batchTokens);
    if (g.burst && g.burst.threads === threads && --g.burst.left <= 0) g.burst = undefined;
    if (threads !== this.lastThreads) {
      this.lastThreads = threads;
      this.sinceSwitch = 0;
    }
    if (++this.sinceSwitch <= this.warmup) return;
    const perToken = ms / Math.max(1, batchTokens);
    const s = g.samples.get(threads);
    if (!s) g.samples.set(threads, { msPerToken: perToken, count: 1 });
    else {
      // The first samples are averaged, later ones weighted so the estimate follows changes.
      const w = s.count < this.samplesPerCandidate ? 1 / (s.count + 1) : 0.2;
      s.msPerToken += w * (perToken - s.msPerToken);
      s.count++;
    }
  }

  private best(samples: Map<number, Sample>): number {
    let best = this.candidates[0]!;
    let bestMs = Infinity;
    for (const [threads, s] of samples) {
      if (s.count > 0 && s.msPerToken < bestMs) { bestMs = s.msPerToken; best = threads; }
    }
    return best;
  }

  /** Per step-size group, the thread count in use. */
  choices(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, g] of [...this.groups].sort((a, b) => a[0] - b[0])) {
      const done = this.candidates.every((c) => (g.samples.get(c)?.count ?? 0) >= this.samplesPerCandidate);
      if (done) out[key === 0 ? "1" : `${2 ** (key - 1) + 1}-${2 ** key}`] = this.best(g.samples);
    }
    return out;
  }

  describe(): string {
    return `up to ${this.maxThreads}, chosen per step size by measurement (candidates ${this.candidates.join(", ")})`;
  }
}

/**
 * Every core, watched: the step time per token of each step-size group is compared with the best
 * seen; when it gets `degraded` times worse (another process took a core, and ggml's threads spin
 * at every barrier), one thread fewer is tried in a short burst and kept while it is faster, and
 * every core is tried again now and then. On a quiet machine no step runs on fewer threads.
 */
export class GuardedThreads implements ThreadTuner {
  private readonly groups = new Map<number, { ms: number; count: number; baseline: number; fallbackMs: number; using: number; burst: number; steps: number }>();
  private lastThreads = 0;
  private sinceSwitch = 0;
  private readonly fallback: number;

  constructor(
    readonly threads: number,
    private readonly degraded = 1.5,
    private readonly recheckEvery = 256,
    private readonly burst = 6,
    private readonly warmup = 2,
  ) {
    this.fallback = Math.max(1, threads - 1);
  }

  private group(batchTokens: number) {
    const key = Math.ceil(Math.log2(Math.max(1, batchTokens)));
    let g = this.groups.get(key);
    if (!g) {
      g = { ms: 0, count: 0, baseline: Infinity, fallbackMs: 0, using: this.threads, burst: 0, steps: 0 };
      this.groups.set(key, g);
    }
    return g;
  }

  choose(batchTokens: number): number {
    const g = this.group(batchTokens);
    g.steps++;
    if (g.burst > 0) return g.using === this.threads ? this.fallback : this.threads;
    if (this.fallback !== this.threads && g.count >= 8) {
      // On every core and much slower than its best: try one thread fewer.
      if (g.using === this.threads && g.ms > g.baseline * this.degraded) g.burst = this.burst;
      // On fewer threads: try every core again now and then.
      else if (g.using !== this.threads && g.steps % this.recheckEvery === 0) g.burst = this.burst;
      if (g.burst > 0) return g.using === this.threads ? this.fallback : this.threads;
    }
    return g.using;
  }

  record(batchTokens: number, threads: number, ms: number): void {
    const g = this.group(batchTokens);
    if (threads !== this.lastThreads) {
      this.lastThreads = threads;
      this.sinceSwitch = 0;
    }
    const counted = ++this.sinceSwitch > this.warmup;
    const perToken = ms / Math.max(1, batchTokens);
    if (g.burst > 0) {
      // A burst measures the count not in use; at its end, keep whichever is faster.
      if (counted) g.fallbackMs = g.fallbackMs === 0 ? perToken : g.fallbackMs + 0.5 * (perToken - g.fallbackMs);
      if (--g.burst === 0 && g.fallbackMs > 0) {
        if (g.fallbackMs < g.ms) {
          g.using = threads;
          [g.ms, g.fallbackMs] = [g.fallbackMs, g.ms];
          if (threads === this.threads) g.baseline = g.ms;
        } else if (g.using === this.threads) {
          // Still the fastest: this is the machine's new normal.
          g.baseline = g.ms;
        }
        g.fallbackMs = 0;
      }
      return;
    }
    if (!counted) return;
    g.ms = g.count === 0 ? perToken : g.ms + (g.count < 8 ? 1 / (g.count + 1) : 0.2) * (perToken - g.ms);
    g.count++;
    if (g.using === this.threads && g.count >= 8) g.baseline = Math.min(g.baseline, g.ms);
  }

  choices(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, g] of [...this.groups].sort((a, b) => a[0] - b[0])) out[key === 0 ? "1" : `${2 ** (key - 1) + 1}-${2 ** key}`] = g.using;
    return out;
  }

  describe(): string {
    return this.fallback === this.threads ? `${this.threads}` : `${this.threads} (all physical cores; ${this.fallback} while another process slows them)`;
  }
}

/**
 * `--threads N` fixes the count. With a persistent thread pool (threadpool.ts) every physical core
 * is used, as llama.cpp's own tools do (measured here, that beat one thread at every step size),
 * but ggml's threads spin at every barrier, so when another process takes a core, fewer threads
 * become much faster (2× on one busy core of two): GuardedThreads watches for that.
 * Without the pool, worker threads are started for every step, which makes small steps slower on
 * more threads: the tuner then simply uses what measures fastest.
 */
export function createThreadTuner(physicalCores: number, override: number | undefined, persistentPool: boolean): ThreadTuner {
  if (override !== undefined && override > 0) return new FixedThreads(override, "fixed by --threads");
  const cores = Math.max(1, physicalCores);
  return persistentPool ? new GuardedThreads(cores) : new AdaptiveThreads(cores);
}
