/**
 * The router's admission: at most `maxConcurrent` requests forwarded at once, at most `maxQueue`
 * more waiting (first come, first served); beyond that a 429 at once, and a 503 after `timeoutMs` of
 * waiting — as a single Nimble server answers. A client that leaves while waiting leaves the queue.
 */
import { ApiError } from "../api/errors.js";
import type { Flight } from "./flight.js";

export class Admission {
  private running = 0;
  private readonly waiting: { resolve: () => void }[] = [];

  constructor(private readonly maxConcurrent: number, private readonly maxQueue: number, private readonly timeoutMs: number, private readonly onWaitingChange: (n: number) => void = () => {}) {}

  get queued(): number {
    return this.waiting.length;
  }

  /** A release function at once when a slot is free (no promise, the common case), else undefined. */
  tryAcquire(): (() => void) | undefined {
    if (this.running >= this.maxConcurrent) return undefined;
    this.running++;
    return this.releaser();
  }

  /** Resolves with a release function once the request may go; throws the 429/503. */
  async acquire(flight: Pick<Flight, "aborted" | "onCancel" | "offCancel">): Promise<() => void> {
    const now = this.tryAcquire();
    if (now) return now;
    if (this.waiting.length >= this.maxQueue) {
      throw new ApiError(429, `The router's queue is full (${this.maxQueue} requests waiting); retry shortly.`, "rate_limit_error", null, "queue_full", { "retry-after": "1" });
    }
    const release = this.releaser();
    return new Promise<() => void>((resolve, reject) => {
      const entry = { resolve: () => { cleanup(); resolve(release); } };
      const drop = (err: ApiError | undefined) => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        this.onWaitingChange(this.waiting.length);
        cleanup();
        reject(err ?? new ApiError(499, "The client closed the request.", "invalid_request_error", null, "client_closed"));
      };
      const timer = this.timeoutMs > 0 ? setTimeout(() => drop(new ApiError(503, `The request waited ${Math.round(this.timeoutMs / 1000)}s in the router's queue; retry later.`, "service_unavailable", null, "queue_timeout", { "retry-after": "5" })), this.timeoutMs) : undefined;
      const onAbort = () => drop(undefined);
      const cleanup = () => { clearTimeout(timer); flight.offCancel(onAbort); };
      this.waiting.push(entry);
      this.onWaitingChange(this.waiting.length);
      flight.onCancel(onAbort); // at once if it was cancelled already: it leaves the queue again
    });
  }

  /** Frees the slot (handing it to the first waiting request, if any); idempotent. */
  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) {
        this.onWaitingChange(this.waiting.length);
        next.resolve();
      } else this.running--;
    };
  }
}
