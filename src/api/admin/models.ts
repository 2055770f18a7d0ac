/**
 * The admin API (admin scope once API keys are on): the models and their state, loading and
 * unloading them by hand, pulling a model into the store with progress streamed as SSE, and the
 * serving profiles of a loaded model on this machine (which one fits, and why).
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { ModelNotFoundError } from "../../engine/model-pool.js";
import { detectHardware, planProfiles, type Hardware } from "../../models/profiles.js";
import { pullModel } from "../../models/pull.js";
import { ApiError, toApiError } from "../errors.js";
import { SseWriter } from "../sse.js";
import { parseBody, requireServing, type ServerState } from "../state.js";

const pullRequestSchema = z.object({ model: z.string().min(1).max(2048) }).passthrough();
const idParams = z.object({ id: z.string().min(1) });

/** The model store admin pulls go to (the server's home folder and offline setting). */
export interface AdminStore {
  home: string;
  offline: boolean;
}

function adminModels(state: ServerState) {
  return state.pool.status().map((s) => ({
    id: s.id,
    aliases: s.aliases,
    kind: s.kind,
    source: s.source,
    state: s.state,
    memory_bytes: s.memoryBytes,
    requests: s.leases,
    last_used: s.lastUsed ? new Date(s.lastUsed).toISOString() : null,
    ...(s.error ? { error: s.error } : {}),
  }));
}

function modelId(state: ServerState, params: unknown): string {
  const { id } = parseBody(idParams, params);
  const resolved = state.pool.resolve(id);
  if (resolved === undefined) throw ApiError.modelNotFound(id);
  return resolved;
}

export function registerAdminRoutes(app: FastifyInstance, state: ServerState, store: AdminStore | undefined): void {
  app.get("/v1/admin/models", async () => ({ object: "list", budget_bytes: state.pool.budgetBytes, data: adminModels(state) }));

  app.post("/v1/admin/models/:id/load", async (request) => {
    requireServing(state);
    const id = modelId(state, request.params);
    await state.pool.load(id);
    return adminModels(state).find((m) => m.id === id);
  });

  app.post("/v1/admin/models/:id/unload", async (request) => {
    const id = modelId(state, request.params);
    try {
      await state.pool.unload(id);
    } catch (err) {
      if (err instanceof ModelNotFoundError) throw ApiError.modelNotFound(id);
      throw err;
    }
    return adminModels(state).find((m) => m.id === id);
  });

  // The serving profiles of a loaded model's file on this machine (as `nimble profiles FILE`).
  let hardware: Promise<Hardware> | undefined;
  app.get("/v1/admin/models/:id/profiles", async (request) => {
    const id = modelId(state, request.params);
    const path = (state.pool.peek(id) as { info?: { path?: string } } | undefined)?.info?.path;
    if (!path) throw new ApiError(409, `The model ${id} is not loaded (or not a chat model): load it first.`, "invalid_request_error", null, "model_not_loaded");
    // The server's own --gpu setting (a `--gpu cpu` server gets CPU profiles on a GPU host too).
    hardware ??= detectHardware((state.metadata.settings as { gpu?: Parameters<typeof detectHardware>[0] } | undefined)?.gpu ?? "auto");
    const plan = await planProfiles(path, await hardware);
    return {
      model: id,
      chosen: plan.chosen?.name ?? null,
      reason: plan.chosen?.reason ?? plan.refusal ?? null,
      profiles: plan.profiles.map((p) => ({ name: p.name, fits: p.fits, reason: p.reason, gpu_layers: p.gpuLayers, ctx_size: p.contextSize, parallel: p.parallel, kv_cache_type: p.kvCacheType, ram_bytes: p.ramBytes, vram_bytes: p.vramBytes })),
    };
  });

  app.post("/v1/admin/pull", async (request, reply) => {
    if (!store) throw new ApiError(404, "This server has no model store to pull into.", "invalid_request_error", null, "not_found");
    const { model } = parseBody(pullRequestSchema, request.body);
    const cancel = new AbortController();
    reply.raw.on("close", () => {
      if (!reply.raw.writableFinished) cancel.abort();
    });
    const sse = new SseWriter(reply);
    sse.open();
    sse.send({ status: "pulling", model });
    // At most a few progress events a second: a fast local copy would otherwise flood the stream.
    let lastSent = 0;
    try {
      const pulled = await pullModel(model, {
        home: store.home,
        offline: store.offline,
        signal: cancel.signal,
        onNotice: (message) => sse.send({ status: "notice", message }),
        onProgress: (p) => {
          const now = performance.now();
          if (now - lastSent < 200 && p.received !== p.total) return;
          lastSent = now;
          sse.send({ status: "downloading", file: p.file, completed: p.received, total: p.total ?? null, resumed_from: p.resumedFrom });
        },
      });
      sse.send({ status: "success", name: pulled.entry.name, path: pulled.path, downloaded: pulled.downloaded });
    } catch (err) {
      // The status line is sent: the failure goes in the stream, with what went wrong but no stack.
      const apiError = toApiError(err);
      sse.send(apiError.status === 500 ? { error: { message: (err as Error).message.split("\n")[0], type: "pull_error", param: "model", code: "pull_failed" } } : apiError.body());
    }
    sse.done();
    return reply;
  });
}
