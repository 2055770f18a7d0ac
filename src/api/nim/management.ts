/** NIM's management endpoints: health (live, ready), version, metadata, Prometheus metrics. */
import { basename } from "node:path";
import type { FastifyInstance } from "fastify";
import { NIMBLE_VERSION } from "../../version.js";
import { modelCard } from "../openai/models.js";
import type { Engine } from "../../engine/types.js";
import type { ServerState } from "../state.js";

export const API_VERSION = "1.0.0";

export function registerManagementRoutes(app: FastifyInstance, state: ServerState): void {
  app.get("/v1/health/live", async () => ({ object: "health.response", message: "live", live: true }));

  app.get("/v1/health/ready", async (_request, reply) => {
    if (state.ready && !state.draining) return { object: "health.response", message: "ready", ready: true };
    const message = state.draining ? "shutting down" : "model loading";
    return reply.status(503).header("retry-after", "1").send({ object: "health.response", message, ready: false });
  });

  app.get("/v1/version", async () => ({ release: NIMBLE_VERSION, api: API_VERSION }));

  // The model's file name, not its path: no response reveals the server's folders.
  app.get("/v1/metadata", async () => ({
    version: NIMBLE_VERSION,
    modelInfo: state.pool
      .status()
      .filter((s) => s.kind === "chat" && state.pool.peek(s.id))
      .map((s) => {
        const { info } = state.pool.peek(s.id) as Engine;
        return { ...modelCard(info, Math.floor(state.startedAt / 1000)), file: basename(info.path) };
      }),
    ...state.metadata,
  }));

  app.get("/v1/metrics", async (_request, reply) => {
    reply.header("content-type", state.metrics.registry.contentType);
    return state.metrics.render();
  });
}
