/** Serving profiles on simulated hardware: what is chosen, what is rejected and why, and the refusal naming what would fit. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { planProfiles, parseSize, type Hardware } from "../src/models/profiles.js";
import { tinyModelPath } from "./helpers.js";

const CLI = fileURLToPath(new URL("../../bin/nimble.cjs", import.meta.url));
const cpu = (ramBytes: number): Hardware => ({ cores: 2, ramBytes, gpu: false, vramBytes: 0 });

let model: string;
/** What the default profile (4 sequences of 4096 tokens, on the CPU) needs. */
let full: number;

before(async () => {
  model = await tinyModelPath();
  const plan = await planProfiles(model, cpu(64 * 1024 ** 3));
  full = plan.chosen!.ramBytes;
});

describe("serving profiles", () => {
  it("choose the model's defaults when memory is plentiful", async () => {
    const plan = await planProfiles(model, cpu(64 * 1024 ** 3));
    assert.equal(plan.chosen!.name, "cpu");
    assert.deepEqual([plan.chosen!.gpuLayers, plan.chosen!.parallel, plan.chosen!.contextSize, plan.chosen!.kvCacheType, plan.chosen!.threads], [0, 4, 4096, "f16", 2]);
    assert.match(plan.chosen!.reason, /^chosen: needs \d+\.\d MB RAM; 64\.0 GB RAM available$/);
    assert.match(plan.profiles.find((p) => p.name === "cpu-kv-q8")!.reason, /^rejected: a q8_0 KV cache needs a head size divisible by 32 \(this model's is 16\)$/);
    assert.ok(plan.profiles.filter((p) => p !== plan.chosen && p.fits).every((p) => p.reason.startsWith('fits, but "cpu" is preferred')));
  });

  it("lower the context or the sequences on a small memory budget, saying why the defaults were rejected", async () => {
    const plan = await planProfiles(model, cpu(full - 1));
    const cpuProfile = plan.profiles.find((p) => p.name === "cpu")!;
    assert.equal(cpuProfile.fits, false);
    assert.match(cpuProfile.reason, /^rejected: needs .* RAM; .* RAM available$/);
    assert.ok(plan.chosen && ["fewer-sequences", "shorter-context"].includes(plan.chosen.name), plan.chosen?.name);
    assert.ok(plan.chosen.ramBytes <= full - 1);
    assert.ok(plan.chosen.parallel < 4 || plan.chosen.contextSize < 4096);
  });

  it("refuse settings fixed by flags that do not fit, naming what would", async () => {
    const plan = await planProfiles(model, cpu(full - 1), { parallel: 4, contextSize: 4096 });
    assert.equal(plan.chosen, undefined);
    assert.match(plan.refusal!, /^the model does not fit with 4 sequences of 4096 tokens: needs .* RAM; .* RAM available\. What would fit: (fewer-sequences|shorter-context): CPU only, \d sequences? of \d+ tokens.* \(--parallel \d+ --ctx-size \d+ --gpu cpu\)$/);
    assert.ok(plan.profiles.some((p) => /^would fit, but --parallel 4 was asked for|^would fit, but --ctx-size 4096 was asked for/.test(p.reason)));
    const nothing = await planProfiles(model, cpu(1024));
    assert.match(nothing.refusal!, /Nothing tried fits; the smallest \(.*\) needs .* RAM: free memory or use a smaller quantization$/);
  });

  it("put every layer on a GPU with room, and fewer or none when VRAM is short", async () => {
    const roomy = await planProfiles(model, { cores: 2, ramBytes: 64 * 1024 ** 3, gpu: "cuda", vramBytes: 64 * 1024 ** 3 });
    assert.equal(roomy.chosen!.name, "gpu");
    assert.equal(roomy.chosen!.gpuLayers, PRESETS_TINY_LAYERS + 1);
    const short = await planProfiles(model, { cores: 2, ramBytes: 64 * 1024 ** 3, gpu: "cuda", vramBytes: 1024 });
    assert.match(short.profiles.find((p) => p.name === "gpu")!.reason, /^rejected: needs .* VRAM; .* and 0\.0 MB VRAM available$/);
    assert.equal(short.chosen!.name, "cpu");
  });

  it("nimble profiles prints the choice and alternatives, and refuses in one line", () => {
    const ok = spawnSync(process.execPath, [CLI, "profiles", model, "--ram-budget", `${full - 1}`], { encoding: "utf8" });
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^chosen {4}(fewer-sequences|shorter-context): CPU only/m);
    assert.match(ok.stdout, /^ {4}cpu: CPU only, 4 sequences of 4096 tokens, KV cache f16, batch 512, 2 threads\n {6}rejected: needs/m);

    const refused = spawnSync(process.execPath, [CLI, "profiles", model, "--ram-budget", `${full - 1}`, "--parallel", "4", "--ctx-size", "4096"], { encoding: "utf8" });
    assert.equal(refused.status, 1);
    const errors = refused.stderr.split("\n").filter((l) => l.startsWith("nimble:"));
    assert.equal(errors.length, 1, refused.stderr);
    assert.match(errors[0]!, /^nimble: the model does not fit with 4 sequences of 4096 tokens: .* What would fit: .*--ctx-size \d+/);
  });

  it("parse memory sizes", () => {
    assert.deepEqual(["512MB", "8GB", "1.5g", "1024"].map(parseSize), [512 * 1024 ** 2, 8 * 1024 ** 3, 1.5 * 1024 ** 3, 1024]);
    assert.throws(() => parseSize("lots"), /invalid size "lots"/);
  });
});

const PRESETS_TINY_LAYERS = 2;
