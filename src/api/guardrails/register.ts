/**
 * Guardrails in the server: compiles the guardrails file (checking the models its rails name
 * against the served ones, so a misconfiguration stops the start), the per-rail metrics, the
 * hooks on the generation endpoints, and the check, configs and moderation endpoints.
 */
import type { FastifyInstance } from "fastify";
import { Counter, Histogram } from "prom-client";
import { GuardrailsConfigError, type GuardrailsFile } from "../../guardrails/config.js";
import { Guardrails } from "../../guardrails/guardrails.js";
import type { Rail } from "../../guardrails/types.js";
import type { ServerState } from "../state.js";
import { registerModerationRoutes } from "../openai/moderations.js";
import { registerGuardrailCheckRoutes } from "./checks.js";
import { registerGuardrailHooks } from "./hooks.js";

/** A topic rail needs an embedding model; named chat models must be served. */
function checkModels(guardrails: Guardrails, state: ServerState): void {
  const served = state.pool.status();
  const named = guardrails.modelsNamed();
  const source = guardrails.file.source;
  for (const id of named.chat) {
    const resolved = state.pool.resolve(id, "chat");
    if (resolved === undefined || served.find((s) => s.id === resolved)?.kind !== "chat") {
      throw new GuardrailsConfigError(`${source}: a rail (or moderation) names the chat model '${id}', which this server does not serve (served: ${served.filter((s) => s.kind === "chat").map((s) => s.id).join(", ") || "none"})`);
    }
  }
  if (named.topicRails > 0 && !served.some((s) => s.kind === "embedding")) {
    throw new GuardrailsConfigError(`${source}: topic rails decide by embedding similarity and need an embedding model: start the server with --embedding-model (or an embedding model in the config file)`);
  }
  for (const id of named.embedding) {
    const resolved = state.pool.resolve(id, "embedding");
    if (resolved === undefined || served.find((s) => s.id === resolved)?.kind !== "embedding") {
      throw new GuardrailsConfigError(`${source}: a topic rail names the embedding model '${id}', which this server does not serve`);
    }
  }
}

/**
 * Compiles guardrails files for this server: rails observed by the per-rail metrics (registered
 * once, on the first file), named models checked against the served ones.
 */
export function guardrailsCompiler(app: FastifyInstance, state: ServerState): (file: GuardrailsFile) => Guardrails {
  let metrics: { latency: Histogram; triggers: Counter } | undefined;
  return (file) => {
    metrics ??= {
      latency: new Histogram({ name: "guardrail_rail_latency_seconds", help: "Time one rail took on one check.", labelNames: ["config_id", "rail", "type"], buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: [state.metrics.registry] }),
      triggers: new Counter({ name: "guardrail_rail_triggers_total", help: "Times a rail fired (action: block, mask, log) or failed (action: error).", labelNames: ["config_id", "rail", "type", "action"], registers: [state.metrics.registry] }),
    };
    const { latency, triggers } = metrics;
    const guardrails = new Guardrails(file, {
      onRail(rail, report, error) {
        const config_id = owner.get(rail) ?? "";
        latency.observe({ config_id, rail: rail.name, type: rail.type }, report.latency_ms / 1000);
        if (report.status !== "success") triggers.inc({ config_id, rail: rail.name, type: rail.type, action: report.status === "error" ? "error" : rail.action });
        if (error !== undefined) app.log.warn({ rail: rail.name, type: rail.type, fail: rail.onError, err: { message: (error as Error).message } }, "guardrail rail failed");
      },
    });
    const owner = new Map<Rail, string>();
    for (const c of guardrails.configs.values()) for (const r of [...c.rails.input, ...c.rails.output, ...c.rails.retrieval]) owner.set(r, c.config.id);
    checkModels(guardrails, state);
    return guardrails;
  };
}

export function registerGuardrails(app: FastifyInstance, state: ServerState, file: GuardrailsFile | undefined): (file: GuardrailsFile) => Guardrails {
  const compile = guardrailsCompiler(app, state);
  if (file) state.guardrails = compile(file);
  registerGuardrailHooks(app, state);
  registerGuardrailCheckRoutes(app, state);
  registerModerationRoutes(app, state);
  return compile;
}
