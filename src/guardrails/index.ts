/** Guardrails as a library: configuration, detectors, rails, sessions, the stream guard and the retrieval filter. */
export { loadGuardrailsFile, parseGuardrails, GuardrailsConfigError, railName, type GuardrailsConfig, type GuardrailsFile, type RailConfig } from "./config.js";
export { Guardrails, GuardSession, UnknownGuardrailsConfigError, type CompiledConfig } from "./guardrails.js";
export { detectPii, PII_ENTITIES, type PiiEntity, type PiiOptions } from "./pii.js";
export { detectInjection, INJECTION_SETS, injectionRuleNames, type InjectionSet } from "./injection.js";
export { cardValid, ibanValid, luhnValid, ssnValid } from "./validators.js";
export { GuardedStream, type OutputGuardOptions } from "./stream.js";
export { createRetrievalFilter, sessionChunkFilter } from "./retrieval.js";
export { moderate, MODERATION_CATEGORIES, type ModerationResult } from "./moderation.js";
export { guardClassify, LLAMA_GUARD_CATEGORIES, llamaGuardPrompt } from "./guard-model.js";
export { jailbreakHeuristics, perplexity, selfCheck, topicCheck } from "./model-rails.js";
export type { ActivatedRail, CheckedText, Rail, RailModels, RailReport, RailType, StageResult } from "./types.js";
