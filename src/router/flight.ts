/**
 * A forwarded request's cancellation and deadlines, without a timer or an AbortController per
 * request: a `Flight` is a plain object with a list of cancel callbacks, and one `Sweeper` interval
 * (running only while requests are in flight) checks every flight's deadlines — the whole request's,
 * and whatever its current attempt watches (connect, first byte, idle) — a few times per shortest
 * timeout. Timeouts fire within one sweep period of their due time.
 */

export type CancelReason = "client" | "timeout";

export class Flight {
  aborted = false;
  reason: CancelReason | undefined;
  /** The attempt's own deadline checks, called at every sweep (set and cleared by the attempt). */
  watch: ((now: number) => void) | undefined;
  private listeners: (() => void)[] | undefined;

  /** `deadline`: when the whole request expires (performance.now() time; Infinity: never). */
  constructor(readonly deadline: number) {}

  /** Calls `fn` when the flight is cancelled (at once if it already is). */
  onCancel(fn: () => void): void {
    if (this.aborted) fn();
    else (this.listeners ??= []).push(fn);
  }

  offCancel(fn: () => void): void {
    const l = this.listeners;
    if (!l) return;
    const i = l.indexOf(fn);
    if (i >= 0) l.splice(i, 1);
  }

  cancel(reason: CancelReason): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const l = this.listeners;
    this.listeners = undefined;
    if (l) for (const fn of l) fn();
  }
}

export class Sweeper {
  private readonly flights = new Set<Flight>();
  private timer: NodeJS.Timeout | undefined;

  constructor(readonly periodMs: number, private readonly now: () => number = () => performance.now()) {}

  /** A sweep period a tenth of the shortest timeout (in ms, 0: none), between 10 ms and 1 s. */
  static periodFor(timeoutsMs: readonly number[]): number {
    const shortest = Math.min(...timeoutsMs.filter((t) => t > 0));
    return Number.isFinite(shortest) ? Math.min(1000, Math.max(10, Math.floor(shortest / 10))) : 1000;
  }

  get size(): number {
    return this.flights.size;
  }

  add(flight: Flight): void {
    this.flights.add(flight);
    if (!this.timer) this.timer = setInterval(() => this.sweep(), this.periodMs).unref();
  }

  delete(flight: Flight): void {
    this.flights.delete(flight);
  }

  /** Checks every flight now (the interval's body; the interval stops once nothing is in flight). */
  sweep(): void {
    if (this.flights.size === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    const now = this.now();
    for (const f of this.flights) {
      if (now >= f.deadline) f.cancel("timeout");
      else f.watch?.(now);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.flights.clear();
  }
}
