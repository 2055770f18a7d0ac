/**
 * CPU threads that stay fast when the machine is busy.
 *
 * ggml's worker threads spin at every barrier of a graph computation: when another process takes
 * one of the cores, a descheduled worker makes the others spin a whole time slice per barrier. On
 * 2 cores with one kept busy a one-token step went from ~3 ms to ~1.2 s (76× slower), while one
 * thread (no barriers) ran at 70% of the quiet speed. So:
 *   - the most threads used is what the process may really run on: the physical cores, the CPU
 *     affinity mask (sched_getaffinity, as Node's availableParallelism reports it) and the cgroup's
 *     CPU quota (cgroup v2 cpu.max, v1 cpu.cfs_quota_us), whichever is smallest;
 *   - while other processes use CPU (on Linux: the machine's busy time from /proc/stat minus this
 *     process's own), the decode uses only the cores left over (a core is taken once more than half
 *     of it is in use elsewhere), at least one;
 *   - anywhere, two steps in a row far slower than the recent median for their size (a descheduled
 *     worker; one alone is noise) drop to fewer threads for a while; more threads are tried again later (sooner when
 *     /proc/stat shows idle cores), and kept when the step is fast again.
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { ThreadTuner } from "./threads.js";

/** The CPU the process may use: the smallest of cores, affinity and cgroup quota, and which one limits. */
export function cpuLimit(physicalCores: number, read: (path: string) => string | undefined = readText): { cores: number; why: string } {
  let cores = Math.max(1, physicalCores);
  let why = "physical cores";
  const affinity = availableParallelism();
  if (affinity < cores) { cores = affinity; why = "CPU affinity"; }
  const quota = cgroupQuota(read);
  if (quota !== undefined && Math.ceil(quota) < cores) { cores = Math.max(1, Math.ceil(quota)); why = `cgroup CPU quota (${quota.toFixed(2)} CPUs)`; }
  return { cores, why };
}

function readText(path: string): string | undefined {
  try { return readFileSync(path, "utf8"); } catch { return undefined; }
}

/** CPUs allowed by the cgroup (v2 cpu.max "quota period", v1 cfs_quota_us / cfs_period_us); undefined when unlimited. */
export function cgroupQuota(read: (path: string) => string | undefined = readText): number | undefined {
  const v2 = read("/sys/fs/cgroup/cpu.max")?.trim().split(/\s+/);
  if (v2 && v2.length === 2 && v2[0] !== "max") {
    const q = Number(v2[0]), p = Number(v2[1]);
    if (q > 0 && p > 0) return q / p;
  }
  const q1 = Number(read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")?.trim());
  const p1 = Number(read("/sys/fs/cgroup/cpu/cpu.cfs_period_us")?.trim());
  if (q1 > 0 && p1 > 0) return q1 / p1;
  return undefined;
}

/** CPU used by other processes, in cores, from /proc/stat and this process's own CPU time (Linux). */
export class OtherLoad {
  private last: { busy: number; total: number; own: number; at: number } | undefined;
  private value: number | undefined;

  constructor(private readonly read: () => string | undefined = () => readText("/proc/stat"), private readonly ownMicros = () => {
    const u = process.cpuUsage();
    return u.user + u.system;
  }) {}

  /** The last window was dropped (an idle pause): the next sample comes after `freshMs`, not `minMs`. */
  private restarted = false;

  /**
   * Samples at most every `minMs`; returns the latest estimate (undefined where /proc/stat is not
   * readable). Sampling happens only while the engine works, so a window longer than `staleMs`
   * spans an idle time (others' work that may be over, e.g. another server's run): it is dropped,
   * the estimate from before the pause stands, and a fresh one follows after `freshMs`.
   */
  sample(now: number, minMs = 500, staleMs = 2000, freshMs = 100): number | undefined {
    if (this.last && now - this.last.at < (this.restarted ? freshMs : minMs)) return this.value;
    const line = this.read()?.split("\n", 1)[0];
    if (!line?.startsWith("cpu ")) return undefined;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    const cur = { busy: total - idle, total, own: this.ownMicros(), at: now };
    this.restarted = this.last !== undefined && now - this.last.at > staleMs;
    if (this.last && now > this.last.at && !this.restarted) {
      const seconds = (now - this.last.at) / 1000;
      const ticks = (cur.total - this.last.total) / seconds; // ticks per second over all cores
      const cores = ticks / 100; // USER_HZ is 100 on Linux
      const busyCores = cores > 0 ? ((cur.busy - this.last.busy) / seconds) / 100 : 0;
      const ownCores = (cur.own - this.last.own) / 1e6 / seconds;
      const others = Math.max(0, busyCores - ownCores);
      this.value = this.value === undefined ? others : this.value + 0.5 * (others - this.value);
    }
    this.last = cur;
    return this.value;
  }
}

/**
 * Wraps a tuner (the all-cores choice, or the measuring one) and lowers its thread count while
 * the CPU is contended.
 */
export class ContentionAwareThreads implements ThreadTuner {
  /** Recent ms per token at the inner tuner's own thread count, per step-size group. */
  private readonly recent = new Map<number, number[]>();
  private backedOffUntil = 0;
  private backoffMs: number;
  private probing = false;
  private lastOthers: number | undefined;
  /** What the inner tuner wanted for the last step, and what was used. */
  private last = { wanted: 0, threads: 0 };
  /** Steps run with fewer threads than the inner tuner chose, and back-offs, for /v1/metadata. */
  reducedSteps = 0;
  backoffs = 0;
  private slowStreak = 0;

  constructor(
    private readonly inner: ThreadTuner,
    readonly maxThreads: number,
    private readonly load: OtherLoad | undefined = new OtherLoad(),
    private readonly now: () => number = () => performance.now(),
    /** A step this many times slower than the recent median for its size counts as contended. */
    private readonly slowFactor = 4,
    private readonly minBackoffMs = 2000,
    private readonly maxBackoffMs = 30_000,
    /** Slow steps in a row (at the full count, outside a probe) that make a back-off. */
    private readonly slowSteps = 2,
  ) {
    this.backoffMs = minBackoffMs;
  }

  private static group(tokens: number): number {
    return Math.ceil(Math.log2(Math.max(1, tokens)));
  }

  /** Threads the other processes leave us (undefined when unknown). */
  private leftOver(): number | undefined {
    const others = this.load?.sample(this.now());
    this.lastOthers = others;
    if (others === undefined) return undefined;
    // A core counts as taken once others use more than half of it. Measured on 2 cores (c = 1, the
    // bench model, another process spinning part of every 10 ms): 0.3 of a core in use elsewhere,
    // 2 threads 174 tok/s against 1 thread 152; 0.6 of a core, 2 threads 137 against 1 thread 154.
    return Math.max(1, Math.min(this.maxThreads, Math.floor(this.maxThreads + 0.5 - others)));
  }

  choose(batchTokens: number): number {
    const wanted = this.inner.choose(batchTokens);
    if (wanted <= 1) {
      this.last = { wanted, threads: wanted };
      return wanted;
    }
    let threads = wanted;
    const left = this.leftOver();
    if (left !== undefined) threads = Math.min(threads, left);
    const now = this.now();
    this.probing = false;
    if (now < this.backedOffUntil) {
      // Try the full count again early when other processes leave idle cores.
      if (left !== undefined && left >= wanted && now - (this.backedOffUntil - this.backoffMs) > this.minBackoffMs) this.backedOffUntil = now;
      else threads = Math.min(threads, Math.max(1, wanted - 1));
    }
    if (threads === wanted && this.backedOffUntil > 0 && now >= this.backedOffUntil) this.probing = true;
    if (threads < wanted) this.reducedSteps++;
    this.last = { wanted, threads };
    return threads;
  }

  record(batchTokens: number, threads: number, ms: number): void {
    this.inner.record(batchTokens, threads, ms);
    // Only steps at the count the inner tuner wanted say whether that count is being slowed down.
    if (threads !== this.last.wanted || threads <= 1) return;
    const g = ContentionAwareThreads.group(batchTokens);
    const perToken = ms / Math.max(1, batchTokens);
    const window = this.recent.get(g) ?? [];
    const median = window.length >= 4 ? [...window].sort((a, b) => a - b)[window.length >> 1]! : undefined;
    const slow = median !== undefined && perToken > this.slowFactor * median && ms > 5;
    if (slow) {
      // One slow step is noise on a quiet machine too (a GC pause, the client's own work): measured
      // with a local benchmark client, backing off at every one kept a quiet 2-core server on 1 thread
      // most of the time (0.73x). A slow probe, or `slowSteps` slow steps in a row, mean contention.
      this.slowStreak++;
      if (!this.probing && this.slowStreak < this.slowSteps) return;
      this.slowStreak = 0;
      // Contended: fewer threads for a while, longer after each failed retry.
      this.backoffs++;
      this.backoffMs = this.probing ? Math.min(this.maxBackoffMs, this.backoffMs * 2) : this.minBackoffMs;
      this.backedOffUntil = this.now() + this.backoffMs;
      this.probing = false;
      return;
    }
    this.slowStreak = 0;
    if (this.probing) {
      this.backedOffUntil = 0;
      this.backoffMs = this.minBackoffMs;
      this.probing = false;
    }
    window.push(perToken);
    if (window.length > 16) window.shift();
    this.recent.set(g, window);
  }

  describe(): string {
    return `${this.inner.describe()}; fewer while other processes use the CPU`;
  }

  choices(): Record<string, number> {
    return this.inner.choices?.() ?? {};
  }

  /** For /v1/metadata: the latest estimate of other processes' CPU use and how often threads were reduced. */
  state(): { otherCores?: number; reducedSteps: number; backoffs: number } {
    return { ...(this.lastOthers !== undefined ? { otherCores: Math.round(this.lastOthers * 100) / 100 } : {}), reducedSteps: this.reducedSteps, backoffs: this.backoffs };
  }
}
