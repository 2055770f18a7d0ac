/** `nimble profiles MODEL`: the serving settings that fit this machine, the one chosen, and why each was chosen or rejected. */
import type { Command } from "commander";
import { givenOptions, resolveOptions, type OptionName } from "../../config.js";
import { localModelPath } from "../../models/resolve.js";
import { describeProfile, detectHardware, parseSize, planProfiles, type ProfileRequest } from "../../models/profiles.js";
import { ModelStore } from "../../models/store.js";
import { addConfigOptions } from "../options.js";
import { formatBytes } from "../progress.js";

const say = (line = "") => process.stdout.write(`${line}\n`);

/** The sizing options a user fixed (flag, environment or config file); the others are defaults a profile may lower. */
export function fixedSettings(flags: Partial<Record<OptionName, unknown>>, config: { ctxSize?: number; parallel: number; batchSize: number; threads: number }, env: NodeJS.ProcessEnv = process.env): ProfileRequest {
  const set = givenOptions(flags, env);
  const given = (name: OptionName) => set.has(name);
  return {
    ...(config.ctxSize !== undefined ? { contextSize: config.ctxSize } : {}),
    ...(given("parallel") ? { parallel: config.parallel } : {}),
    batchSize: config.batchSize,
    threads: config.threads,
  };
}

export function registerProfiles(program: Command): void {
  const cmd = program
    .command("profiles")
    .description("Show the serving settings that fit this machine for a model: the chosen profile and the alternatives, with reasons.")
    .argument("<model>", "a GGUF path, or a name or reference from `nimble models ls`");
  addConfigOptions(cmd, ["home", "gpu", "ctxSize", "parallel", "batchSize", "threads"]);
  cmd
    .option("--ram-budget <size>", "memory Nimble may use (e.g. 8GB; default: the free memory)")
    .option("--vram-budget <size>", "GPU memory Nimble may use (default: the free VRAM)")
    .option("--json", "print JSON")
    .action(async (model: string, flags: Partial<Record<OptionName, unknown>> & { ramBudget?: string; vramBudget?: string; json?: boolean }) => {
      const config = resolveOptions(["home", "gpu", "ctxSize", "parallel", "batchSize", "threads"], flags);
      const path = await localModelPath(model, new ModelStore(config.home));
      const hardware = await detectHardware(config.gpu);
      if (flags.ramBudget !== undefined) hardware.ramBytes = parseSize(flags.ramBudget);
      if (flags.vramBudget !== undefined) hardware.vramBytes = parseSize(flags.vramBudget);
      const plan = await planProfiles(path, hardware, fixedSettings(flags, config));
      if (flags.json) {
        say(JSON.stringify(plan, null, 2));
      } else {
        say(`hardware  ${hardware.cores} cores, ${formatBytes(hardware.ramBytes)} RAM available, ${hardware.gpu ? `GPU ${hardware.gpu} with ${formatBytes(hardware.vramBytes)} free` : "no GPU"}`);
        say(plan.chosen ? `chosen    ${describeProfile(plan.chosen)}` : "chosen    none");
        say("profiles");
        for (const p of plan.profiles) say(`  ${p === plan.chosen ? "*" : " "} ${describeProfile(p)}\n      ${p.reason}`);
      }
      if (plan.refusal) throw new Error(plan.refusal);
    });
}
