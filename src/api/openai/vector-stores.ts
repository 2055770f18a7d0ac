/**
 * OpenAI's Vector Stores API: stores (create/list/get/update/delete), their files (attach with
 * attributes, list with a status filter and cursor pages, get, update attributes, detach,
 * /content), file batches (create/get/cancel/list files) and POST /v1/vector_stores/{id}/search.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import type { StoreFileRecord } from "../../rag/records.js";
import type { RetrievedChunk } from "../../rag/types.js";
import { parseBody, type ServerState } from "../state.js";
import { cursorPage, parseQuery, ragService } from "./common.js";
import { attachFileSchema, createBatchSchema, createStoreSchema, listQuerySchema, searchSchema, storeFilesQuerySchema, updateStoreFileSchema, updateStoreSchema } from "./schemas.js";

type StoreParams = { Params: { id: string } };
type FileParams = { Params: { id: string; fileId: string } };
type BatchParams = { Params: { id: string; batchId: string } };

/** How often the SDK's *AndPoll helpers should ask again (its default is 1 s). */
const POLL_AFTER_MS = "200";

export function storeFileObject(f: StoreFileRecord) {
  return {
    id: f.id,
    object: "vector_store.file" as const,
    usage_bytes: f.usage_bytes,
    created_at: f.created_at,
    vector_store_id: f.vector_store_id,
    status: f.status,
    last_error: f.last_error,
    attributes: f.attributes,
    chunking_strategy: f.chunking_strategy,
    /** Nimble: chunks indexed (each one embedding). */
    chunks: f.chunks,
    /** Nimble: chunks dropped at ingest as near-duplicates of chunks already in the store. */
    duplicate_chunks: f.duplicate_chunks ?? 0,
    /** Nimble: PII replaced by placeholders (stores with redact_pii). */
    ...(f.pii_redacted !== undefined ? { pii_redacted: f.pii_redacted } : {}),
  };
}

/** A search result in OpenAI's shape, plus where the chunk sits (Nimble's extra fields). */
export function searchResultObject(r: RetrievedChunk) {
  return {
    file_id: r.fileId,
    filename: r.filename,
    score: r.score,
    attributes: r.attributes,
    content: [{ type: "text" as const, text: r.chunk.text }],
    page: r.chunk.page ?? null,
    heading_path: r.chunk.headingPath,
    chunk_index: r.chunk.index,
    char_start: r.chunk.charStart,
    char_end: r.chunk.charEnd,
  };
}

function pollHeader(reply: FastifyReply): void {
  reply.header("openai-poll-after-ms", POLL_AFTER_MS);
}

export function registerVectorStoreRoutes(app: FastifyInstance, state: ServerState): void {
  const service = () => ragService(state);

  app.post("/v1/vector_stores", async (request) => {
    const body = parseBody(createStoreSchema, request.body);
    const s = await service();
    const store = await s.createStore({ ...body, ...(body.chunking_strategy ? { chunking_strategy: body.chunking_strategy } : {}), expires_after: body.expires_after ?? null });
    return s.storeObject(store);
  });

  app.get("/v1/vector_stores", async (request) => {
    const q = parseQuery(listQuerySchema, request);
    const s = await service();
    return cursorPage(await Promise.all((await s.listStores()).map((st) => s.storeObject(st))), q);
  });

  app.get<StoreParams>("/v1/vector_stores/:id", async (request) => {
    const s = await service();
    return s.storeObject(await s.getStore(request.params.id));
  });

  app.post<StoreParams>("/v1/vector_stores/:id", async (request) => {
    const body = parseBody(updateStoreSchema, request.body);
    const s = await service();
    return s.storeObject(await s.updateStore(request.params.id, body));
  });

  app.delete<StoreParams>("/v1/vector_stores/:id", async (request) => {
    const id = await (await service()).deleteStore(request.params.id);
    return { id, object: "vector_store.deleted", deleted: true };
  });

  // ---- files of a store ----
  app.post<StoreParams>("/v1/vector_stores/:id/files", async (request) => {
    const body = parseBody(attachFileSchema, request.body);
    const record = await (await service()).attachFile(request.params.id, body.file_id, body.attributes ?? {}, body.chunking_strategy);
    return storeFileObject(record);
  });

  app.get<StoreParams>("/v1/vector_stores/:id/files", async (request) => {
    const q = parseQuery(storeFilesQuerySchema, request);
    const s = await service();
    const store = await s.getStore(request.params.id);
    const files = (await s.storeFiles(store.id)).filter((f) => !q.filter || f.status === q.filter);
    return cursorPage(files.map(storeFileObject), q);
  });

  app.get<FileParams>("/v1/vector_stores/:id/files/:fileId", async (request, reply) => {
    pollHeader(reply);
    return storeFileObject(await (await service()).getStoreFile(request.params.id, request.params.fileId));
  });

  app.post<FileParams>("/v1/vector_stores/:id/files/:fileId", async (request) => {
    const body = parseBody(updateStoreFileSchema, request.body);
    return storeFileObject(await (await service()).updateStoreFile(request.params.id, request.params.fileId, body.attributes ?? {}));
  });

  app.delete<FileParams>("/v1/vector_stores/:id/files/:fileId", async (request) => {
    await (await service()).detachFile(request.params.id, request.params.fileId);
    return { id: request.params.fileId, object: "vector_store.file.deleted", deleted: true };
  });

  app.get<FileParams>("/v1/vector_stores/:id/files/:fileId/content", async (request) => {
    const doc = await (await service()).storeFileContent(request.params.id, request.params.fileId);
    return { object: "vector_store.file_content.page", data: doc.sections.map((s) => ({ type: "text", text: s.text })), has_more: false, next_page: null };
  });

  // ---- file batches ----
  app.post<StoreParams>("/v1/vector_stores/:id/file_batches", async (request) => {
    const body = parseBody(createBatchSchema, request.body);
    const s = await service();
    const files = body.files
      ? body.files.map((f) => ({ file_id: f.file_id, attributes: f.attributes ?? {}, ...(f.chunking_strategy ? { chunking_strategy: f.chunking_strategy } : {}) }))
      : body.file_ids!.map((file_id) => ({ file_id, attributes: body.attributes ?? {}, ...(body.chunking_strategy ? { chunking_strategy: body.chunking_strategy } : {}) }));
    return s.batchObject(await s.createBatch(request.params.id, files));
  });

  app.get<BatchParams>("/v1/vector_stores/:id/file_batches/:batchId", async (request, reply) => {
    pollHeader(reply);
    const s = await service();
    return s.batchObject(await s.getBatch(request.params.id, request.params.batchId));
  });

  app.post<BatchParams>("/v1/vector_stores/:id/file_batches/:batchId/cancel", async (request) => {
    const s = await service();
    return s.batchObject(await s.cancelBatch(request.params.id, request.params.batchId));
  });

  app.get<BatchParams>("/v1/vector_stores/:id/file_batches/:batchId/files", async (request) => {
    const q = parseQuery(storeFilesQuerySchema, request);
    const s = await service();
    const files = (await s.batchFiles(await s.getBatch(request.params.id, request.params.batchId))).filter((f) => !q.filter || f.status === q.filter);
    return cursorPage(files.map(storeFileObject), q);
  });

  // ---- search ----
  app.post<StoreParams>("/v1/vector_stores/:id/search", async (request) => {
    const body = parseBody(searchSchema, request.body);
    const s = await service();
    const store = await s.getStore(request.params.id);
    const ranking = body.ranking_options;
    const result = await s.retriever.search([store.id], body.query, {
      maxResults: body.max_num_results ?? 10,
      ...(body.filters ? { filters: body.filters } : {}),
      ...(ranking?.score_threshold !== undefined ? { scoreThreshold: ranking.score_threshold } : {}),
      ...(ranking?.ranker ? { ranker: ranking.ranker } : {}),
      ...(ranking?.hybrid_search ? { hybrid: { embeddingWeight: ranking.hybrid_search.embedding_weight, textWeight: ranking.hybrid_search.text_weight } } : {}),
      rewriteQuery: body.rewrite_query === true,
    });
    return {
      object: "vector_store.search_results.page",
      search_query: [result.searchQuery],
      query_truncated: result.truncated,
      data: result.results.map(searchResultObject),
      has_more: false,
      next_page: null,
    };
  });
}
