/**
 * Load generation for one level against one target: a closed loop that keeps exactly `concurrency`
 * requests in flight, or an open loop of Poisson arrivals at `rate` requests/s; stopping after
 * `requests` requests or `durationS` seconds (in-flight requests finish). A multi-turn session's next
 * turn becomes ready when its previous answer arrives, and ready turns go before new sessions.
 */
import { sendRequest, type RequestResult, type Target } from "./client.js";
import { rng } from "./text.js";
import type { Session } from "./workloads.js";

export type LoadMode = "concurrency" | "rate";

export interface LoadOptions {
  mode: LoadMode;
  /** Requests in flight (concurrency) or requests per second (rate). */
  value: number;
  /** Stop issuing after this many requests (undefined: no limit). */
  maxRequests?: number;
  /** Stop issuing after this many seconds (undefined: no limit). */
  durationS?: number;
  /** Sessions available (undefined: unbounded). */
  maxSessions?: number;
  openSession: (index: number) => Promise<Session>;
  /** Seed for Poisson inter-arrival times. */
  seed: number;
  onResult?: (r: RequestResult, done: number) => void;
}

interface Job {
  state: { session: Session; lastAnswer?: string };
  spec: NonNullable<ReturnType<Session["next"]>>;
}

/** Runs one level; resolves with every request's result (in completion order). */
export async function runLoad(target: Target, o: LoadOptions): Promise<RequestResult[]> {
  if (o.maxRequests === undefined && o.durationS === undefined && o.maxSessions === undefined) throw new Error("runLoad: no stopping condition");
  const results: RequestResult[] = [];
  const ready: Job["state"][] = [];
  let opened = 0;
  let issued = 0;
  let inFlight = 0;
  let opening = 0;
  const started = performance.now();
  const deadline = o.durationS === undefined ? Infinity : started + o.durationS * 1000;
  let waiters: (() => void)[] = [];
  const changed = () => new Promise<void>((resolve) => { waiters.push(resolve); });
  const notify = () => { const w = waiters; waiters = []; for (const f of w) f(); };

  /** The next request to send, "wait" while only in-flight sessions could give one, "done" when the level is over. */
  const nextJob = async (): Promise<Job | "wait" | "done"> => {
    for (;;) {
      if ((o.maxRequests !== undefined && issued >= o.maxRequests) || performance.now() >= deadline) return "done";
      let state = ready.shift();
      if (!state) {
        if (o.maxSessions !== undefined && opened >= o.maxSessions) return inFlight + opening > 0 ? "wait" : "done";
        const index = opened++;
        opening++;
        try { state = { session: await o.openSession(index) }; } finally { opening--; }
      }
      const spec = state.session.next(state.lastAnswer);
      if (spec) { issued++; return { state, spec }; }
    }
  };

  const send = async (job: Job) => {
    inFlight++;
    const r = await sendRequest(target, job.spec);
    inFlight--;
    results.push(r);
    job.state.lastAnswer = r.text;
    if (r.ok) ready.push(job.state); // a failed turn ends its conversation
    o.onResult?.(r, results.length);
    notify();
  };

  if (o.mode === "concurrency") {
    const worker = async () => {
      for (;;) {
        const job = await nextJob();
        if (job === "done") return;
        if (job === "wait") { await changed(); continue; }
        await send(job);
      }
    };
    await Promise.all(Array.from({ length: o.value }, worker));
    return results;
  }

  // Poisson arrivals: exponential gaps with mean 1/rate, from a seeded generator.
  const random = rng(o.seed);
  const pending: Promise<void>[] = [];
  let nextArrival = started;
  for (;;) {
    nextArrival += (-Math.log(1 - random()) / o.value) * 1000;
    const wait = nextArrival - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    let job = await nextJob();
    while (job === "wait") { await changed(); job = await nextJob(); }
    if (job === "done") break;
    pending.push(send(job));
  }
  await Promise.all(pending);
  return results;
}
