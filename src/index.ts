/** Nimble as a library. */
export { createServer, type CreateServerOptions, type NimbleServer } from "./nimble.js";
export { resolveConfig, OPTIONS, type NimbleConfig } from "./config.js";
export { LlamaEngine, type LlamaEngineOptions } from "./engine/llama-engine.js";
export type { Engine, GenerationRequest, GenerationResult, GenerationStream, ModelInfo, SamplingParams } from "./engine/types.js";
export { KvTier, type KvTierOptions, type KvTierStats } from "./engine/kv-tier.js";
export { cpuLimit, ContentionAwareThreads } from "./engine/contention.js";
export { generateModel, PRESETS, type ModelKind, type ModelShape } from "./models/generate.js";
export { startHttpServer, type HttpServer } from "./api/server.js";
export { startRouter, FORWARDED_ROUTES, type RouterServer } from "./router/server.js";
export { loadRouterConfig, parseRouterConfig, type RouterConfig, type RouterConfigInput } from "./router/config.js";
export { runAssistant, undoAssistant, pickModel, CATALOG, recommend, TOOLS, toolSpecs, ActionLog, WebConversation, policyToGuardrails, type AssistantOptions, type CatalogModel, type Tool, type Io, type Turn } from "./assistant/index.js";
// RAG document processing (no HTTP): extraction, chunking, near-duplicates, PII redaction, retrieval metrics.
export { extractDocument, detectFormat, DEFAULT_EXTRACT_LIMITS, type DocumentFormat, type ExtractLimits } from "./rag/extract.js";
export { chunkDocument, documentText, validateChunkingOptions, AUTO_CHUNKING } from "./rag/chunk.js";
export { llamaTokenizer, cachedTokenizer } from "./rag/tokenizer.js";
export { NearDuplicateIndex, minhashSignature, encodeSignature, decodeSignature, lshBands, DEFAULT_DUPLICATE_THRESHOLD } from "./rag/dedupe.js";
export { redactPersonalData, redactDocument, type PiiCounts, type PiiKind } from "./rag/redact.js";
export { evaluateRetrieval, parseQueries, parseQrels, recallAtK, ndcgAtK, mrrAtK, type EvalReport, type Qrels } from "./rag/eval.js";
export { ExtractError, type Chunk, type ChunkingOptions, type ExtractedDocument, type DocumentSection, type TextTokenizer } from "./rag/types.js";
export { openSqlBackends, PostgresChunkIndex, PostgresMetadataStore, PostgresFileBlobStore, RagStoreError } from "./rag/index/postgres.js";
export { pgliteClient, poolClient, type SqlClient, type SqlQueryable, type PGliteLike, type PoolLike } from "./rag/index/sql-client.js";
export * as guardrails from "./guardrails/index.js";
export { Guardrails, loadGuardrailsFile, parseGuardrails, createRetrievalFilter } from "./guardrails/index.js";
