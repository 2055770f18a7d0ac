/** Thread choice: fixed counts, and the adaptive tuner converging on the faster count per step size. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AdaptiveThreads, createThreadTuner, GuardedThreads, type ThreadTuner } from "../src/engine/threads.js";

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

  it("with a persistent pool uses every core on a quiet machine, gives one up while another process takes it, and comes back", () => {
    const tuner = createThreadTuner(2, undefined, true);
    assert.ok(tuner instanceof GuardedThreads);
    let noise = 0;
    const quiet = (threads: number) => (threads === 2 ? 2.9 : 3.8) * (1 + 0.1 * Math.sin(noise++));
    const early = simulate(tuner, 1, 600, quiet);
    assert.ok(early.every((t) => t === 2), "no step on fewer threads while the machine is quiet");
    // A busy core: 2 threads now 7.6 ms, 1 thread 3.9 ms.
    const busy = simulate(tuner, 1, 600, (threads) => (threads === 2 ? 7.6 : 3.9));
    assert.ok(busy.slice(50).filter((t) => t === 1).length >= 520, "switches to 1 thread under contention");
    assert.deepEqual(tuner.choices!(), { "1": 1 });
    const after = simulate(tuner, 1, 800, quiet);
    assert.ok(after.slice(400).every((t) => t === 2), "back to every core once the machine is quiet");
  });

  it("with a persistent pool accepts a machine that got slower for every thread count", () => {
    const tuner = createThreadTuner(2, undefined, true);
    simulate(tuner, 16, 200, (t) => (t === 2 ? 1.6 : 2.4) * 16);
    const slower = simulate(tuner, 16, 600, (t) => (t === 2 ? 3.2 : 4.8) * 16);
    assert.ok(slower.filter((t) => t === 1).length <= 12, "one exploration burst, then every core again");
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
