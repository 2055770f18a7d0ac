/** `nimble pull REF`: download a model into the store (the same code `serve --model` uses). */
import type { Command } from "commander";
import { resolveOptions, type OptionName } from "../../config.js";
import { pullModel } from "../../models/pull.js";
import { addConfigOptions } from "../options.js";
import { downloadBars, formatBytes } from "../progress.js";

export function registerPull(program: Command): void {
  const cmd = program
    .command("pull")
    .description("Download a model into the store: hf:owner/repo/file.gguf, hf:owner/repo:QUANT, an https:// URL, or a local file (copied in).")
    .argument("<ref>", "model reference");
  addConfigOptions(cmd, ["home", "offline"]);
  cmd.action(async (ref: string, flags: Partial<Record<OptionName, unknown>>) => {
    const config = resolveOptions(["home", "offline"], flags);
    const bars = downloadBars();
    let pulled;
    try {
      pulled = await pullModel(ref, {
        home: config.home,
        offline: config.offline,
        onProgress: bars.onProgress,
        onNotice: (m) => { bars.finish(); process.stderr.write(`${m}\n`); },
      });
    } finally {
      bars.finish();
    }
    const { entry } = pulled;
    const size = entry.files.reduce((n, f) => n + f.size, 0);
    const parts = entry.files.length > 1 ? ` in ${entry.files.length} parts` : "";
    const sha = entry.files.length === 1 && entry.files[0]!.sha256 ? `, sha256 ${entry.files[0]!.sha256}` : "";
    process.stdout.write(`${pulled.downloaded ? "pulled" : "already present"}: ${entry.name} (${formatBytes(size)}${parts}${sha})\n${pulled.path}\n`);
  });
}
