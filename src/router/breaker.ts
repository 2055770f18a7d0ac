/**
 * A circuit breaker per upstream: `failureThreshold` consecutive failures open it; after `cooldownMs`
 * it turns half-open and lets exactly one request through as a probe; the probe's success closes it,
 * its failure opens it again for another cooldown.
 */
export type BreakerState = "closed" | "open" | "half-open";

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private opened = false;
  private probing = false;

  constructor(private readonly failureThreshold: number, private readonly cooldownMs: number, private readonly now: () => number = Date.now) {}

  get state(): BreakerState {
    if (!this.opened) return "closed";
    return this.now() - this.openedAt >= this.cooldownMs ? "half-open" : "open";
  }

  /** Whether a request may be sent now (half-open: only when no probe is already out). */
  allows(): boolean {
    const s = this.state;
    return s === "closed" || (s === "half-open" && !this.probing);
  }

  /** Marks a request as sent; in half-open state it is the probe. Returns whether it is the probe. */
  begin(): boolean {
    if (this.state !== "half-open") return false;
    this.probing = true;
    return true;
  }

  success(): void {
    this.failures = 0;
    this.opened = false;
    this.probing = false;
  }

  failure(): void {
    this.failures++;
    this.probing = false;
    if (this.opened || this.failures >= this.failureThreshold) {
      this.opened = true;
      this.openedAt = this.now();
    }
  }

  /** A request that ended without saying anything about the upstream's health (client gone, 4xx). */
  neutral(wasProbe: boolean): void {
    if (wasProbe) this.probing = false;
  }
}
