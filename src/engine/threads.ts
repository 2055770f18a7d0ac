/**
 * How many CPU threads a decode step uses.
 *
 * llama.cpp's CPU threads busy-wait between graph computations and Node's main thread needs a
 * core between steps, so more threads is not always faster (docs/BENCHMARKS.md has the numbers).
 * Large batches (prefill, many sequences) use every physical core; small decode batches run
 * faster on fewer threads on small machines because the spare core serves Node itself.
 */
export interface ThreadPolicy {
  /** Threads for large batches. */
  threads: number;
  /** Threads for batches of at most `smallBatchTokens` tokens. */
  smallBatchThreads: number;
  smallBatchTokens: number;
}

export function defaultThreadPolicy(physicalCores: number, override?: number): ThreadPolicy {
  if (override !== undefined && override > 0) {
    return { threads: override, smallBatchThreads: override, smallBatchTokens: 0 };
  }
  const threads = Math.max(1, physicalCores);
  return {
    threads,
    // On machines with few cores, leave one free for Node's event loop on small steps.
    smallBatchThreads: threads <= 4 ? Math.max(1, threads - 1) : threads,
    smallBatchTokens: 4,
  };
}

export function threadsFor(policy: ThreadPolicy, batchTokens: number): number {
  return batchTokens <= policy.smallBatchTokens ? policy.smallBatchThreads : policy.threads;
}
