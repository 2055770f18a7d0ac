/** Thread choice: fixed counts, and the adaptive tuner converging on the faster count per step size. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AdaptiveThreads, createThreadTuner } from "../src/engine/threads.js";

/** Runs the tuner against a fake machine where `msPerStep(threads, tokens)` is the step time. */
function simulate(tuner: AdaptiveThreads, tokens: number, steps: number, msPerStep: (threads: number, tokens: number) => number): number[] {
  const chosen: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t = tuner.choose(tokens);
    chosen.push(t);
    tuner.record(tokens, t, msPerStep(t, tokens));
  }
  return chosen;
}

describe("threads", () => {
  it("fixes the count when asked, or with a persistent pool", () => {
    assert.equal(createThreadTuner(8, 3, true).choose(1), 3);
    assert.equal(createThreadTuner(8, undefined, true).choose(1), 8);
    assert.ok(createThreadTuner(8, undefined, false) instanceof AdaptiveThreads);
  });

  it("learns per step size which thread count is faster, and mostly uses it", () => {
    const tuner = new AdaptiveThreads(2);
    // Small steps: 1 thread faster; large steps: 2 threads faster (as measured without a pool).
    const machine = (threads: number, tokens: number) => (tokens <= 4 ? (threads === 1 ? 3.8 : 10) * tokens : (threads === 2 ? 1.6 : 2.4) * tokens);
    const small = simulate(tuner, 1, 600, machine);
    const large = simulate(tuner, 16, 600, machine);
    assert.ok(small.slice(100).filter((t) => t === 1).length > 490);
    assert.ok(large.slice(100).filter((t) => t === 2).length > 490);
    assert.deepEqual(tuner.choices(), { "1": 1, "9-16": 2 });
  });

  it("ignores the warm-up step of each candidate", () => {
    const tuner = new AdaptiveThreads(2);
    let first = true;
    simulate(tuner, 1, 100, (threads) => {
      if (threads === 2 && first) { first = false; return 1000; }
      return threads === 2 ? 2 : 3;
    });
    assert.equal(tuner.choices()["1"], 2);
  });
});
