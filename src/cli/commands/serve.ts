/** `nimble serve`: serve a model over the OpenAI/NIM API. */
import type { Command } from "commander";
import { resolveConfig, type OptionName } from "../../config.js";
import { LlamaEngine } from "../../engine/llama-engine.js";
import { describeProfile, detectHardware, planProfiles } from "../../models/profiles.js";
import { resolveModel } from "../../models/resolve.js";
import { fixedSettings } from "./profiles.js";
import { createServer } from "../../nimble.js";
import { DEMO_NOTE } from "../../api/openai/models.js";
import { NIMBLE_VERSION } from "../../version.js";
import { addConfigOptions } from "../options.js";
import { downloadBars, formatBytes, ProgressBar } from "../progress.js";

const say = (line: string) => process.stdout.write(`${line}\n`);

export function registerServe(program: Command): void {
  const cmd = program.command("serve").description("Serve a GGUF model (or the built-in demo model) over OpenAI/NIM-compatible HTTP.");
  addConfigOptions(cmd);
  cmd.option("--config <file>", "JSON or YAML (.yaml/.yml) config file: any of the options above (camelCase keys) and a models list (docs/MODELS.md) [env: NIMBLE_CONFIG]");
  cmd.action(async (flags: Partial<Record<OptionName, unknown>> & { config?: string }) => {
    const config = resolveConfig(flags);
    say(`nimble ${NIMBLE_VERSION}`);
    const download = downloadBars();
    const load = new ProgressBar("loading model");
    let server;
    try {
      // Without --model, the config file's models are served (each with its own settings).
      const fromConfigFile = config.model === undefined && config.models.some((m) => m.kind === "chat");
      let profile = {};
      let servingProfiles;
      if (!fromConfigFile) {
        // Pull (or generate) the model first, so its serving profile can be chosen before loading it.
        const resolved = await resolveModel(config.model, { home: config.home, offline: config.offline, onNotice: (m) => say(m), onDownloadProgress: download.onProgress });
        download.finish();
        const plan = await planProfiles(resolved.path, await detectHardware(config.gpu), fixedSettings(flags, config));
        let chosen = plan.chosen;
        if (config.profile !== undefined) {
          chosen = plan.profiles.find((p) => p.name === config.profile);
          if (!chosen) throw new Error(`unknown profile "${config.profile}" for ${resolved.path}; this machine's are: ${plan.profiles.map((p) => p.name).join(", ")}`);
          if (!chosen.fits) say(`warning    profile ${chosen.name} was asked for but does not fit by the estimate: ${chosen.reason}`);
        }
        if (!chosen) throw new Error(`cannot serve ${resolved.path}: ${plan.refusal}`);
        say(`profile    ${describeProfile(chosen)} (${config.profile !== undefined ? "asked for with --profile" : chosen.reason.replace(/^chosen: /, "")}; nimble profiles MODEL shows the alternatives)`);
        profile = { ctxSize: chosen.contextSize, parallel: chosen.parallel, gpuLayers: chosen.gpuLayers, kvCacheType: chosen.kvCacheType };
        servingProfiles = { chosen: chosen.name, profiles: plan.profiles };
      }
      server = await createServer({
        ...config,
        ...profile,
        servingProfiles,
        onNotice: (m) => say(m),
        onDownloadProgress: download.onProgress,
        onLoadProgress: (p) => load.update(p, 1, false),
        onWarning: (m) => process.stderr.write(`\n!!! WARNING: ${m}\n\n`),
      });
    } finally {
      download.finish();
    }
    const model = server.model;
    if (model) say(`model      ${model.path}`);
    if (model?.isDemo) say(`           ${DEMO_NOTE}`);
    let engine;
    try {
      engine = await server.ready;
    } catch (err) {
      load.finish();
      await server.app.close();
      throw new Error(`cannot load model ${model?.path ?? "from the config file"}: ${(err as Error).message}`);
    }
    load.finish();
    const info = engine.info;
    say(`served as  "${info.id}" (${info.architecture}, ${(info.parameters / 1e6).toFixed(1)}M parameters, ${formatBytes(info.sizeBytes)}, chat template: ${info.hasChatTemplate ? "from the model" : "ChatML fallback"})`);
    if (engine instanceof LlamaEngine) {
      const hw = engine.hardware;
      say(`hardware   ${hw.gpu ? `GPU ${hw.gpu} (${hw.gpuDevices.join(", ") || "unknown device"}), ${hw.gpuLayers} layers offloaded` : "CPU only"}; ${hw.cpuMathCores} CPU math cores`);
      say(`threads    ${engine.threads.describe()}; ${hw.threadPool.attached ? "persistent thread pool" : `no persistent thread pool: ${hw.threadPool.reason}`}`);
    }
    if (config.loraDir) {
      const adapters = await server.adapters?.list() ?? [];
      say(`lora       ${config.loraDir}: ${adapters.length === 0 ? "no adapters yet" : adapters.map((a) => a.name).join(", ")} (read again every ${config.loraRefreshInterval}s)`);
    }
    const pooled = server.pool.status();
    if (pooled.length > 1) {
      for (const m of pooled) say(`models     ${m.id}${m.aliases.length ? ` (${m.aliases.join(", ")})` : ""}: ${m.kind}, ${m.state === "loaded" ? `loaded, ${formatBytes(m.memoryBytes)}` : "loads on first request"} — ${m.source}`);
      say(`memory     budget ${formatBytes(server.pool.budgetBytes)} for loaded models (the least recently used idle one is unloaded to make room)`);
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
