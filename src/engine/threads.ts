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
import { ContentionAwareThreads } from "./contention.js";

export interface ThreadTuner {
  /** Threads to use for a step of `batchTokens` tokens. */
  choose(batchTokens: number): number;
  /** Reports how long a step took with the threads `choose` returned. */
  record(batchTokens: number, threads: number, ms: number): void;
  /** For the startup log and /v1/metadata. */
  describe(): string;
  /** The thread count chosen per step-size group, where it is chosen by measurement. */
  choices?(): Record<string, number>;
  /** The contention guard's view (other processes' CPU in cores, reduced steps, back-offs), where there is one. */
  state?(): { otherCores?: number; reducedSteps: number; backoffs: number };
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
 * `--threads N` fixes the count. With a persistent thread pool (threadpool.ts) every physical core
 * is used, as llama.cpp's own tools do: measured here, that beat one thread at every step size.
 * (ggml's threads spin at every barrier, so on a machine where another process keeps a core busy,
 * fewer threads are faster: `--threads` is the remedy there.) Without the pool, worker threads are
 * started for every step, which makes small steps slower on more threads: the tuner then measures
 * what is fastest.
 */
export function createThreadTuner(physicalCores: number, override: number | undefined, persistentPool: boolean, limitedBy = "physical cores"): ThreadTuner {
  if (override !== undefined && override > 0) return new FixedThreads(override, "fixed by --threads");
  const cores = Math.max(1, physicalCores);
  return persistentPool ? new FixedThreads(cores, limitedBy === "physical cores" ? "all physical cores" : `all cores allowed: ${limitedBy}`) : new AdaptiveThreads(cores);
}

/** The tuner the engine uses: createThreadTuner's choice, with fewer threads while other processes use the CPU (contention.ts; off with NIMBLE_CONTENTION_GUARD=0). */
export function createEngineThreadTuner(cores: number, override: number | undefined, persistentPool: boolean, limitedBy?: string): ThreadTuner {
  const inner = createThreadTuner(cores, override, persistentPool, limitedBy);
  const fixedByUser = override !== undefined && override > 0;
  return fixedByUser || cores <= 1 || process.env.NIMBLE_CONTENTION_GUARD === "0" ? inner : new ContentionAwareThreads(inner, cores);
}
