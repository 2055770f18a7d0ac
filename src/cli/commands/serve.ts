/** `nimble serve`: serve a model over the OpenAI/NIM API. */
import type { Command } from "commander";
import { OPTIONS, resolveConfig, type OptionName } from "../../config.js";
import { LlamaEngine } from "../../engine/llama-engine.js";
import { createServer } from "../../nimble.js";
import { DEMO_NOTE } from "../../api/models.js";
import { NIMBLE_VERSION } from "../../version.js";
import { formatBytes, ProgressBar } from "../progress.js";

const say = (line: string) => process.stdout.write(`${line}\n`);

export function registerServe(program: Command): void {
  const cmd = program.command("serve").description("Serve a GGUF model (or the built-in demo model) over OpenAI/NIM-compatible HTTP.");
  for (const opt of Object.values(OPTIONS)) {
    const def = opt.default === undefined || (Array.isArray(opt.default) && opt.default.length === 0) ? "" : ` (default: ${String(opt.default)})`;
    const help = `${opt.description}${def} [env: ${opt.env.join(", ")}]`;
    if ("repeatable" in opt) cmd.option(opt.flag, help, (value: string, previous: string[] = []) => [...previous, value]);
    else cmd.option(opt.flag, help);
  }
  cmd.option("--config <file>", "JSON config file with any of the options above (camelCase keys) [env: NIMBLE_CONFIG]");
  cmd.action(async (flags: Partial<Record<OptionName, unknown>> & { config?: string }) => {
    const config = resolveConfig(flags);
    say(`nimble ${NIMBLE_VERSION}`);
    let download: ProgressBar | undefined;
    const load = new ProgressBar("loading model");
    const server = await createServer({
      ...config,
      onNotice: (m) => say(m),
      onDownloadProgress: (p) => (download ??= new ProgressBar("downloading")).update(p.received, p.total),
      onLoadProgress: (p) => load.update(p, 1, false),
      onWarning: (m) => process.stderr.write(`\n!!! WARNING: ${m}\n\n`),
    });
    download?.finish();
    const model = server.model!;
    say(`model      ${model.path}`);
    if (model.isDemo) say(`           ${DEMO_NOTE}`);
    let engine;
    try {
      engine = await server.ready;
    } catch (err) {
      load.finish();
      await server.app.close();
      throw new Error(`cannot load model ${model.path}: ${(err as Error).message}`);
    }
    load.finish();
    const info = engine.info;
    say(`served as  "${info.id}" (${info.architecture}, ${(info.parameters / 1e6).toFixed(1)}M parameters, ${formatBytes(info.sizeBytes)}, chat template: ${info.hasChatTemplate ? "from the model" : "ChatML fallback"})`);
    if (engine instanceof LlamaEngine) {
      const hw = engine.hardware;
      say(`hardware   ${hw.gpu ? `GPU ${hw.gpu} (${hw.gpuDevices.join(", ") || "unknown device"}), ${hw.gpuLayers} layers offloaded` : "CPU only"}; ${hw.cpuMathCores} CPU math cores`);
      say(`threads    ${engine.threads.describe()}; ${hw.threadPool.attached ? "persistent thread pool" : `no persistent thread pool: ${hw.threadPool.reason}`}`);
    }
    say(`settings   parallel ${info.parallel}, context ${info.contextSize} tokens per sequence, batch ${config.batchSize}, max queue ${config.maxQueue}`);
    const keyCount = server.keys.entries().length;
    say(`security   ${keyCount > 0 ? `API keys required (${keyCount} configured)` : "no API keys: every route is open"}; ${config.tlsCert ? "TLS" : "no TLS"}; CORS ${config.corsAllowOrigins.length > 0 ? config.corsAllowOrigins.join(", ") : "off"}`);
    say(`listening  ${server.url}  (OpenAI base URL: ${server.url}/v1)`);
    say(`try        curl ${server.url}/v1/chat/completions -H 'Content-Type: application/json'${keyCount > 0 ? " -H 'Authorization: Bearer <key>'" : ""} -d '{"model":"${info.id}","messages":[{"role":"user","content":"Hello"}]}'`);

    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        say(`${signal} again: exiting now`);
        process.exit(1);
      }
      stopping = true;
      say(`${signal}: draining (up to ${config.drainTimeout}s for in-flight requests)`);
      server.close().then(
        () => { say("stopped"); process.exit(0); },
        (err: unknown) => { process.stderr.write(`nimble: error while stopping: ${(err as Error).message}\n`); process.exit(1); },
      );
    };
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGINT", () => stop("SIGINT"));
  });
}
