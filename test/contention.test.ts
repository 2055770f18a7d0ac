/**
 * Threads under CPU contention, on a scripted machine (no timing of the real one): the usable
 * core count (affinity, cgroup quota), other processes' CPU use from /proc/stat, and backing off
 * the thread count when steps get far slower than their recent median, then recovering.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { availableParallelism } from "node:os";
import { cgroupQuota, ContentionAwareThreads, cpuLimit, OtherLoad } from "../src/engine/contention.js";
import { createEngineThreadTuner, FixedThreads } from "../src/engine/threads.js";

const files = (map: Record<string, string>) => (path: string) => map[path];

describe("usable cores", () => {
  it("reads cgroup v2 and v1 quotas, and unlimited ones", () => {
    assert.equal(cgroupQuota(files({ "/sys/fs/cgroup/cpu.max": "150000 100000\n" })), 1.5);
    assert.equal(cgroupQuota(files({ "/sys/fs/cgroup/cpu.max": "max 100000\n" })), undefined);
    assert.equal(cgroupQuota(files({ "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "50000", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000" })), 0.5);
    assert.equal(cgroupQuota(files({ "/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000" })), undefined);
  });

  it("takes the smallest of physical cores, affinity and quota", () => {
    const many = availableParallelism() + 8;
    assert.deepEqual(cpuLimit(many, files({})), { cores: availableParallelism(), why: "CPU affinity" });
    assert.equal(cpuLimit(1, files({})).cores, 1);
    const quota = cpuLimit(many, files({ "/sys/fs/cgroup/cpu.max": "100000 100000" }));
    assert.equal(quota.cores, 1);
    assert.match(quota.why, /cgroup CPU quota \(1\.00 CPUs\)/);
  });
});

describe("other processes' CPU", () => {
  it("is the machine's busy time minus this process's own", () => {
    // 2 cores, 100 ticks per second each: one second later 150 busy ticks, 50 of them ours.
    let stat = "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 ...";
    let own = 0;
    const load = new OtherLoad(() => stat, () => own);
    assert.equal(load.sample(0), undefined);
    stat = "cpu  200 0 150 850 0 0 0 0 0 0";
    own = 500_000;
    assert.equal(load.sample(1000), 1);
    assert.equal(load.sample(1100), 1, "not sampled again before minMs");
    // An idle pause (no steps, so no samples): the long window is dropped, the estimate from before
    // it stands, and the next one comes after a short fresh window.
    stat = "cpu  1000 0 150 1850 0 0 0 0 0 0"; // 800 busy ticks of others over the 9 s pause
    assert.equal(load.sample(10_000), 1, "the pause's window is not averaged in");
    assert.equal(load.sample(10_050), 1, "not before the fresh window");
    stat = "cpu  1000 0 150 1870 0 0 0 0 0 0"; // 100 ms later: idle
    assert.equal(load.sample(10_100), 0.5, "half-way to the fresh reading of 0 (the usual smoothing)");
    assert.equal(load.sample(10_300), 0.5, "then minMs again");
    assert.equal(new OtherLoad(() => undefined).sample(0), undefined);
  });
});

/** A tuner over a scripted clock and load. */
function rig(others: number | undefined) {
  let now = 0;
  const load = { sample: () => others } as unknown as OtherLoad;
  const tuner = new ContentionAwareThreads(new FixedThreads(2, "test"), 2, load, () => now);
  const step = (ms: number, tokens = 1) => {
    const t = tuner.choose(tokens);
    tuner.record(tokens, t, ms);
    now += ms;
    return t;
  };
  return { tuner, step, set: (o: number | undefined) => (others = o), advance: (ms: number) => (now += ms) };
}

describe("contention-aware threads", () => {
  it("uses the cores other processes leave", () => {
    const r = rig(0.05);
    assert.equal(r.step(3), 2);
    r.set(1.0);
    assert.equal(r.step(8), 1);
    r.set(0.6);
    assert.equal(r.step(8), 1, "more than half a core in use elsewhere takes it");
    r.set(0.3);
    assert.equal(r.step(3), 2, "0.3 of a core elsewhere: both threads are still faster (174 vs 152 tok/s measured)");
    r.set(0);
    assert.equal(r.step(3), 2);
    assert.ok(r.tuner.state().reducedSteps >= 2);
  });

  it("backs off after two steps in a row far slower than their recent median (not after one), and recovers when steps are fast again", () => {
    const r = rig(undefined); // no /proc/stat: the step times alone decide
    for (let i = 0; i < 8; i++) assert.equal(r.step(3), 2);
    assert.equal(r.step(30), 2); // one slow step (a GC pause): noise
    assert.equal(r.step(3), 2, "a single slow step does not back off");
    assert.equal(r.tuner.state().backoffs, 0);
    assert.equal(r.step(1200), 2); // a descheduled worker…
    assert.equal(r.step(1200), 2); // …again: contended
    assert.equal(r.step(8), 1);
    assert.equal(r.tuner.state().backoffs, 1);
    r.advance(2500);
    assert.equal(r.step(1100), 2, "tries the full count again after the back-off");
    assert.equal(r.step(8), 1, "still slow: backs off again, longer");
    r.advance(2500);
    assert.equal(r.step(8), 1, "the second back-off lasts 4 s");
    r.advance(2000);
    assert.equal(r.step(3), 2);
    assert.equal(r.step(3), 2, "fast again: keeps the full count");
    // Other step sizes have their own medians: a large step is not "slow" against 1-token steps.
    assert.equal(r.step(40, 64), 2);
    assert.equal(r.step(3), 2);
  });

  it("is not used when --threads fixes the count or when switched off", () => {
    assert.ok(createEngineThreadTuner(2, undefined, true) instanceof ContentionAwareThreads);
    assert.ok(createEngineThreadTuner(2, 2, true) instanceof FixedThreads);
    assert.ok(createEngineThreadTuner(1, undefined, true) instanceof FixedThreads);
    process.env.NIMBLE_CONTENTION_GUARD = "0";
    try {
      assert.ok(createEngineThreadTuner(2, undefined, true) instanceof FixedThreads);
    } finally {
      delete process.env.NIMBLE_CONTENTION_GUARD;
    }
  });
});

describe("libuv thread pool size (bin/threadpool-size.cjs)", async () => {
  const { createRequire } = await import("node:module");
  const { chooseThreadPoolSize } = createRequire(import.meta.url)("../../bin/threadpool-size.cjs") as {
    chooseThreadPoolSize(p: { env: Record<string, string>; argv: string[]; cores: number; platform: string; arch: string; exists(path: string): boolean }): { size: number; why: string };
  };
  const probe = (over: Partial<{ env: Record<string, string>; argv: string[]; cores: number; platform: string; arch: string; nvidia: boolean }>) => ({
    env: over.env ?? {}, argv: over.argv ?? [], cores: over.cores ?? 2, platform: over.platform ?? "linux", arch: over.arch ?? "x64", exists: (p: string) => p === "/dev/nvidia0" && over.nvidia === true,
  });
  it("keeps 1 thread on small CPUs, sizes it for GPU hosts and many cores, and yields to UV_THREADPOOL_SIZE", () => {
    assert.equal(chooseThreadPoolSize(probe({ cores: 2 })).size, 1);
    assert.equal(chooseThreadPoolSize(probe({ cores: 4 })).size, 1);
    assert.equal(chooseThreadPoolSize(probe({ cores: 16 })).size, 4);
    assert.equal(chooseThreadPoolSize(probe({ cores: 64 })).size, 8);
    assert.deepEqual(chooseThreadPoolSize(probe({ cores: 16, nvidia: true })), { size: 8, why: "GPU host" });
    assert.equal(chooseThreadPoolSize(probe({ cores: 16, nvidia: true, argv: ["serve", "--gpu", "cpu"] })).size, 4);
    assert.equal(chooseThreadPoolSize(probe({ cores: 2, argv: ["serve", "--gpu=cuda"] })).size, 2);
    assert.equal(chooseThreadPoolSize(probe({ cores: 8, platform: "darwin", arch: "arm64" })).size, 4);
    assert.equal(chooseThreadPoolSize(probe({ cores: 16, nvidia: true, env: { UV_THREADPOOL_SIZE: "3" } })).size, 3);
  });
});
