/**
 * The models a request's rails use, leased from the server's pool (loaded on demand like any
 * request's model) and released when the response is over.
 */
import type { FastifyReply } from "fastify";
import type { EmbeddingEngine } from "../../engine/embedding-engine.js";
import type { ModelKind } from "../../engine/model-pool.js";
import type { Engine } from "../../engine/types.js";
import type { RailModels } from "../../guardrails/types.js";
import type { ServerState } from "../state.js";

/** `requestModel`: the model the request itself runs on (the default for rails that name none). */
export function railModels(state: ServerState, reply: FastifyReply, requestModel: string | undefined): RailModels {
  const leases = new Map<string, Promise<unknown>>();
  const use = (name: string | undefined, kind: ModelKind): Promise<unknown> => {
    const status = state.pool.status();
    const wanted = name ?? status.find((s) => s.kind === kind)?.id;
    if (wanted === undefined) return Promise.reject(new Error(`no ${kind} model is served for this rail`));
    const id = state.pool.resolve(wanted, kind);
    if (id === undefined || status.find((s) => s.id === id)?.kind !== kind) return Promise.reject(new Error(`the rail's ${kind} model '${wanted}' is not served`));
    let lease = leases.get(id);
    if (!lease) {
      lease = state.pool.acquire(id).then((held) => {
        reply.raw.once("close", () => held.release());
        return held.model;
      });
      leases.set(id, lease);
    }
    return lease;
  };
  return {
    chat: (id) => use(id ?? requestModel, "chat") as Promise<Engine>,
    embedding: (id) => use(id, "embedding") as Promise<EmbeddingEngine>,
  };
}
