/** Adds options from the configuration table (src/config.ts) to a command, with their environment names and defaults in the help. */
import type { Command } from "commander";
import { OPTIONS, type OptionName } from "../config.js";

export function addConfigOptions(cmd: Command, names: readonly OptionName[] = Object.keys(OPTIONS) as OptionName[]): Command {
  for (const name of names) {
    const opt = OPTIONS[name];
    const def = opt.default === undefined || opt.default === false ? "" : ` (default: ${String(opt.default)})`;
    cmd.option(opt.flag, `${opt.description}${def} [env: ${opt.env.join(", ")}]`);
  }
  return cmd;
}
