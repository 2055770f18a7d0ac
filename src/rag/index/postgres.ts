/** PostgreSQL + pgvector backends (placeholder until the adapter lands). */
import type { ChunkIndex, MetadataStore } from "./types.js";

export async function openPostgresBackends(_url: string): Promise<{ meta: MetadataStore; index: ChunkIndex }> {
  throw new Error("the PostgreSQL store is not available in this build");
}
