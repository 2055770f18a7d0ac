/** Adds options from the configuration table (src/config.ts) to a command, with their environment names and defaults in the help. */
import type { Command } from "commander";
import { OPTIONS, type OptionName } from "../config.js";

export function addConfigOptions(cmd: Command, names: readonly OptionName[] = Object.keys(OPTIONS) as OptionName[]): Command {
  for (const name of names) {
    const opt = OPTIONS[name];
    const empty = opt.default === undefined || opt.default === false || (Array.isArray(opt.default) && opt.default.length === 0);
    const help = `${opt.description}${empty ? "" : ` (default: ${String(opt.default)})`} [env: ${opt.env.join(", ")}]`;
    // A repeatable flag (--api-key) collects its values.
    if ("repeatable" in opt) cmd.option(opt.flag, help, (value: string, previous: string[] = []) => [...previous, value]);
    else cmd.option(opt.flag, help);
  }
  // Commander gives a negated flag (--no-ui) a default of true; dropped, so the environment and the config file still count.
  cmd.hook("preAction", (_, action) => {
    for (const name of names) if (action.getOptionValueSource(name) === "default") action.setOptionValue(name, undefined);
  });
  return cmd;
}
