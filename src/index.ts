/** Nimble as a library. */
export { createServer, type CreateServerOptions, type NimbleServer } from "./nimble.js";
export { resolveConfig, OPTIONS, type NimbleConfig } from "./config.js";
export { LlamaEngine, type LlamaEngineOptions } from "./engine/llama-engine.js";
export type { Engine, GenerationRequest, GenerationResult, GenerationStream, ModelInfo, SamplingParams } from "./engine/types.js";
export { generateModel, PRESETS, type ModelKind, type ModelShape } from "./models/generate.js";
export { startHttpServer, type HttpServer } from "./api/server.js";
export { startRouter, FORWARDED_ROUTES, type RouterServer } from "./router/server.js";
export { loadRouterConfig, parseRouterConfig, type RouterConfig, type RouterConfigInput } from "./router/config.js";
export { runAssistant, undoAssistant, pickModel, CATALOG, recommend, TOOLS, toolSpecs, ActionLog, type AssistantOptions, type CatalogModel, type Tool, type Io } from "./assistant/index.js";
