/** Thread choice: fixed counts, and the adaptive tuner converging on the faster count per step size. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AdaptiveThreads, createThreadTuner, type ThreadTuner } from "../src/engine/threads.js";

/** Runs the tuner against a fake machine where `msPerStep(threads, tokens)` is the step time. */
function simulate(tuner: ThreadTuner, tokens: number, steps: number, msPerStep: (threads: number, tokens: number) => number): number[] {
  const chosen: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = tuner.choose(tokens);
    chosen.push(t);
    tuner.record(tokens, t, msPerStep(t, tokens));
  }
  return chosen;
}

describe("threads", () => {
  it("fixes the count when asked", () => {
    assert.equal(createThreadTuner(8, 3, true).choose(1), 3);
    assert.ok(createThreadTuner(8, undefined, false) instanceof AdaptiveThreads);
  });

  it("uses every core with a persistent pool", () => {
    assert.equal(createThreadTuner(2, undefined, true).choose(1), 2);
    assert.match(createThreadTuner(2, undefined, true).describe(), /all physical cores/);
  });

  it("learns per step size which thread count is faster, and mostly uses it", () => {
    const tuner = new AdaptiveThreads(2);
    // Small steps: 1 thread faster; large steps: 2 threads faster (as measured without a pool).
    const machine = (threads: number, tokens: number) => (tokens <= 4 ? (threads === 1 ? 3.8 : 10) * tokens : (threads === 2 ? 1.6 : 2.4) * tokens);
    const small = simulate(tuner, 1, 600, machine);
    const large = simulate(tuner, 16, 600, machine);
    assert.ok(small.slice(100).filter((t) => t === 1).length >= 480);
    assert.ok(large.slice(100).filter((t) => t === 2).length >= 480);
    assert.deepEqual(tuner.choices(), { "1": 1, "9-16": 2 });
  });

  it("does not count the slow steps right after a change of thread count", () => {
    const tuner = new AdaptiveThreads(2);
    let previous = 0;
    // Each switch makes the next two steps 5x slower, whichever the count.
    let slow = 0;
    simulate(tuner, 1, 300, (threads) => {
      if (threads !== previous) { previous = threads; slow = 2; }
      const base = threads === 2 ? 2 : 3;
      return slow-- > 0 ? base * 5 : base;
    });
    assert.equal(tuner.choices()["1"], 2);
  });
});
