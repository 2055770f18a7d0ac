/**
 * Which model a request runs on: its `model` — an id, an alias, or a LoRA adapter of a served
 * model; absent, the first configured model of the endpoint's kind — leased from the model pool
 * (loaded first if it must be) for as long as the response lasts.
 */
import type { FastifyReply } from "fastify";
import type { EmbeddingEngine } from "../engine/embedding-engine.js";
import type { RerankEngine } from "../engine/rerank-engine.js";
import { parseKeepAlive, type ModelKind } from "../engine/model-pool.js";
import type { AdapterHandle, Engine } from "../engine/types.js";
import type { LoraAdapterFile } from "../models/lora-dir.js";
import { ApiError } from "./errors.js";
import { requireServing, type ServedModel, type ServerState } from "./state.js";

export interface ChatTarget {
  engine: Engine;
  /** The name the response reports: the model's id, or the adapter's. */
  id: string;
  adapter?: AdapterHandle;
}

const KIND_ENDPOINT: Record<ModelKind, string> = { chat: "/v1/chat/completions and /v1/completions", embedding: "/v1/embeddings", rerank: "/v1/ranking and /v1/rerank" };
const KIND_FLAG: Record<ModelKind, string> = { chat: "--model", embedding: "--embedding-model", rerank: "--rerank-model" };

/** The keep-alive a request asks for (Ollama's keep_alive), in ms; a bad value is a 400. */
function keepAliveOf(value: string | number | null | undefined): number | undefined {
  if (value == null) return undefined;
  try {
    return parseKeepAlive(value);
  } catch (err) {
    throw ApiError.invalid(`Invalid value for 'keep_alive': ${(err as Error).message}`, "keep_alive");
  }
}

async function lease(state: ServerState, reply: FastifyReply, requested: string | undefined, kind: ModelKind, keepAlive: string | number | null | undefined): Promise<{ model: ServedModel; id: string; adapterFile?: LoraAdapterFile }> {
  requireServing(state);
  const keepAliveMs = keepAliveOf(keepAlive);
  const status = state.pool.status();
  let name = requested;
  if (name === undefined) {
    name = status.find((s) => s.kind === kind)?.id;
    if (name === undefined) throw new ApiError(404, `This server serves no ${kind} model; start it with ${KIND_FLAG[kind]}.`, "invalid_request_error", "model", "model_not_found");
  }
  let id = state.pool.resolve(name, kind);
  let adapterFile: LoraAdapterFile | undefined;
  if (id === undefined) {
    for (const [parent, folder] of state.adapters) {
      adapterFile = await folder.find(name);
      if (adapterFile) { id = parent; break; }
    }
  }
  if (id === undefined) throw ApiError.modelNotFound(name);
  const modelKind = status.find((s) => s.id === id)!.kind;
  if (modelKind !== kind) throw ApiError.invalid(`The model '${name}' is a ${modelKind} model: use it with ${KIND_ENDPOINT[modelKind]}.`, "model", "wrong_model_kind");
  const held = await state.pool.acquire(id);
  // Released when the response is complete or the client is gone.
  reply.raw.once("close", () => held.release(keepAliveMs));
  return { model: held.model, id: adapterFile ? name : id, ...(adapterFile ? { adapterFile } : {}) };
}

/** The generation model a chat/completions/messages request runs on. */
export async function useChatModel(state: ServerState, reply: FastifyReply, requested: string | undefined, keepAlive?: string | number | null): Promise<ChatTarget> {
  const { model, id, adapterFile } = await lease(state, reply, requested, "chat", keepAlive);
  const engine = model as Engine;
  if (!adapterFile) return { engine, id };
  if (!engine.loadAdapter) throw ApiError.modelNotFound(id);
  try {
    return { engine, id, adapter: await engine.loadAdapter(adapterFile.path) };
  } catch (err) {
    reply.log.error({ err }, `LoRA adapter ${adapterFile.path} failed to load`);
    throw new ApiError(400, `The LoRA adapter '${id}' cannot be loaded for this model (the server log says why).`, "invalid_request_error", "model", "adapter_load_failed");
  }
}

/** The embedding model an embeddings request runs on. */
export async function useEmbeddingModel(state: ServerState, reply: FastifyReply, requested: string | undefined, keepAlive?: string | number | null): Promise<{ embedder: EmbeddingEngine; id: string }> {
  const { model, id } = await lease(state, reply, requested, "embedding", keepAlive);
  return { embedder: model as EmbeddingEngine, id };
}

/** The reranker a ranking/rerank request runs on. */
export async function useRerankModel(state: ServerState, reply: FastifyReply, requested: string | undefined): Promise<RerankEngine> {
  return (await lease(state, reply, requested, "rerank", undefined)).model as RerankEngine;
}
