/**
 * Opens the RAG service on its backends: embedded by default (LanceDB chunks and a JSONL metadata
 * log under <home>/rag), or PostgreSQL + pgvector when a postgres:// URL is given (--rag-store), so
 * that several replicas share one index and one set of records.
 */
import { join } from "node:path";
import { JsonlMetadataStore } from "./index/jsonl-metadata.js";
import { LanceChunkIndex } from "./index/lance.js";
import type { RagModels } from "./models.js";
import { RagService, type RagServiceOptions } from "./service.js";

export interface OpenRagOptions {
  /** NIMBLE_HOME: files, index and records go under <home>/rag. */
  home: string;
  /** postgres://… to keep index and records in PostgreSQL (pgvector); default: embedded. */
  storeUrl?: string;
  models: RagModels;
  /** Near-duplicate detection at ingest (default: threshold 0.8); see RagServiceOptions. */
  dedupe?: RagServiceOptions["dedupe"];
}

async function openPostgres(storeUrl: string) {
  if (!/^postgres(ql)?:\/\//.test(storeUrl)) throw new Error(`--rag-store must be a postgres:// URL (or unset for the embedded store), got ${storeUrl.split(":")[0]}:…`);
  const { openPostgresBackends } = await import("./index/postgres.js");
  return openPostgresBackends(storeUrl);
}

/** Opens and closes the store of a --rag-store URL: one clear error naming the option when it cannot be used (checked at start). */
export async function checkRagStore(storeUrl: string): Promise<void> {
  const { meta, index } = await openPostgres(storeUrl);
  await index.close();
  await meta.close();
}

export async function openRag(options: OpenRagOptions): Promise<RagService> {
  const root = join(options.home, "rag");
  const common = { filesDir: join(root, "files"), models: options.models, ...(options.dedupe !== undefined ? { dedupe: options.dedupe } : {}) };
  if (options.storeUrl) return RagService.open({ ...common, ...(await openPostgres(options.storeUrl)) });
  const [meta, index] = await Promise.all([JsonlMetadataStore.open(join(root, "metadata.jsonl")), LanceChunkIndex.open(join(root, "lance"))]);
  return RagService.open({ ...common, meta, index });
}
