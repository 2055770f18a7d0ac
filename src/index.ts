/** Nimble as a library. */
export { createServer, type CreateServerOptions, type NimbleServer } from "./nimble.js";
export { resolveConfig, OPTIONS, type NimbleConfig } from "./config.js";
export { LlamaEngine, type LlamaEngineOptions } from "./engine/llama-engine.js";
export type { Engine, GenerationRequest, GenerationResult, GenerationStream, ModelInfo, SamplingParams } from "./engine/types.js";
export { generateModel, PRESETS, type ModelKind, type ModelShape } from "./models/generate.js";
export { startHttpServer, type HttpServer } from "./api/server.js";
export * as guardrails from "./guardrails/index.js";
export { Guardrails, loadGuardrailsFile, parseGuardrails, createRetrievalFilter } from "./guardrails/index.js";
