/**
 * The engine interface: what the HTTP layer (or any other caller) can ask of a loaded model.
 * Nothing here knows about HTTP.
 */
import type { KvTierStats } from "./kv-tier.js";

export interface SamplingParams {
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  /** <= 0 = off. */
  topK: number;
  minP: number;
  /** Seed of the random sampler; the same seed and prompt give the same output. */
  seed: number;
  /** Multiplicative penalty on tokens seen in the last `penaltyLastN` tokens; 1 = off. */
  repetitionPenalty: number;
  presencePenalty: number;
  frequencyPenalty: number;
}

export interface GenerationRequest {
  promptTokens: number[];
  sampling: SamplingParams;
  /** Most tokens to generate. */
  maxTokens: number;
  /** End-of-generation tokens are suppressed until this many tokens were generated. */
  minTokens: number;
  /** Keep generating past end-of-generation tokens (up to maxTokens). */
  ignoreEos: boolean;
  stop: string[];
  /** Constrains the output to a grammar (from Engine.prepareGrammar). */
  grammar?: PreparedGrammar;
  /** Report each generated token's logprob and this many alternatives (0–20). */
  logprobs?: { top: number };
  /** Added to the logits of these token ids before sampling (-Infinity bans a token). */
  logitBias?: Map<number, number>;
  /** Aborting stops the generation at the next decode step and frees its sequence. */
  signal?: AbortSignal;
  /** Who asked (e.g. an API key's name): waiting requests of different clients take turns. */
  client?: string;
  /** A LoRA adapter (from Engine.loadAdapter) to generate with; the base model without it. */
  adapter?: AdapterHandle;
}

/** A loaded LoRA adapter (opaque outside the engine). */
export interface AdapterHandle {
  /** Stable id of the adapter (its file path). */
  readonly id: string;
}

export type FinishReason = "stop" | "length" | "abort";

export interface GenerationResult {
  finishReason: FinishReason;
  /** The stop string that ended the generation, when one did. */
  stopSequence?: string;
  /** The full generated text (equals the concatenation of the streamed pieces). */
  text: string;
  promptTokens: number;
  /** Prompt tokens whose KV cache was reused from an earlier request. */
  cachedTokens: number;
  completionTokens: number;
  /** One entry per generated token, when logprobs were asked for. */
  logprobs?: TokenLogprob[];
  timings: {
    queuedMs: number;
    /** From admission to the first generated token. */
    promptMs: number;
    /** From the first generated token to the end. */
    generationMs: number;
  };
}

/** Log-probability of a generated token under the model (before sampling settings), with the most likely alternatives. */
export interface TokenLogprob {
  token: number;
  /** The token's own text (a lone byte of a multi-byte character shows as U+FFFD). */
  text: string;
  logprob: number;
  top: { token: number; text: string; logprob: number }[];
}

/** What a generation releases at once: text (whole characters only) and, when asked for, the logprobs of the tokens generated since. */
export interface GenerationPiece {
  text: string;
  logprobs?: TokenLogprob[];
}

/** A running generation: iterate for pieces; `result` settles when it ends. */
export interface GenerationStream extends AsyncIterable<GenerationPiece> {
  readonly result: Promise<GenerationResult>;
  /** Resolves when the generation leaves the wait queue (or ends); rejects if it fails first (e.g. queue timeout). */
  readonly started: Promise<void>;
}

export interface ModelInfo {
  /** Name the model is served as. */
  id: string;
  path: string;
  /** Generated random-weight model (output is gibberish). */
  isDemo: boolean;
  architecture: string;
  parameters: number;
  sizeBytes: number;
  trainContextSize: number;
  /** Context (tokens) available to one request: prompt plus completion. */
  contextSize: number;
  parallel: number;
  hasChatTemplate: boolean;
  /**
   * The model's chat template renders a `tools` list and its models answer with
   * `<tool_call>{"name": …, "arguments": …}</tool_call>` (Hermes/Qwen style).
   */
  templateToolCalls: boolean;
  vocabSize: number;
}

export interface EngineStats {
  running: number;
  waiting: number;
  maxQueue: number;
  parallel: number;
  /** Fraction of KV cache cells in use by active sequences (0–1). */
  kvCacheUsage: number;
  /** Prompt tokens decoded so far (those served from a cache, a copy or the KV tier are not counted). */
  prefillTokens?: number;
  /** Prompt prefixes copied from one sequence to another instead of being prefilled again. */
  prefixCopies?: number;
  /** Tokens sampled greedily on the main thread (plain-greedy requests), without node-llama-cpp's sampler. */
  greedySamples?: number;
  /** The KV cache tier in RAM and on disk, when it is on. */
  kvTier?: KvTierStats;
}

export interface ChatMessage {
  role: string;
  content: string;
  name?: string;
  /** Calls an assistant made (Hugging Face's template convention: `arguments` is an object). */
  tool_calls?: { id: string; type: "function"; function: { name: string; arguments: unknown } }[];
  /** On a `tool` message: the call it answers. */
  tool_call_id?: string;
}

/** Extra variables for the chat template. */
export interface ChatTemplateOptions {
  /** Function tools in OpenAI's shape, for templates that render them. */
  tools?: unknown[];
}

/**
 * What output must match: any JSON, a JSON schema (node-llama-cpp's dialect), GBNF, one of fixed
 * strings, a regex, or JSON values each wrapped in fixed text (tool calls), once or repeated.
 */
export type GrammarSpec =
  | { kind: "json" }
  | { kind: "json_schema"; schema: Record<string, unknown> }
  | { kind: "wrapped_json"; schema: Record<string, unknown>; open: string; close: string; separator: string; repeat: boolean }
  | { kind: "gbnf"; grammar: string }
  | { kind: "choice"; choices: string[] }
  | { kind: "regex"; regex: string };

/** A compiled grammar, ready to constrain generations (opaque outside the engine). */
export interface PreparedGrammar {
  readonly gbnf: string;
}

export class GrammarError extends Error {
  override name = "GrammarError";
}

export interface Engine {
  readonly info: ModelInfo;
  /** Tokens of a text, special tokens parsed; the model's BOS token is prepended when it wants one, unless `addSpecial` is false. */
  tokenize(text: string, addSpecial?: boolean): number[];
  detokenize(tokens: number[]): string;
  /** Renders messages with the model's chat template, ready for generation. */
  applyChatTemplate(messages: ChatMessage[], options?: ChatTemplateOptions): string;
  /** Compiles a grammar (cached); throws GrammarError when it cannot be compiled. */
  prepareGrammar(spec: GrammarSpec): Promise<PreparedGrammar>;
  /** Loads a LoRA adapter GGUF for this model (once per file; later calls return the same handle). */
  loadAdapter?(path: string): Promise<AdapterHandle>;
  /** Starts a generation. Throws QueueFullError or ContextLengthError at once. */
  generate(request: GenerationRequest): GenerationStream;
  stats(): EngineStats;
  /** Waits for running and queued generations to end (up to timeoutMs), then releases the model. */
  close(timeoutMs?: number): Promise<void>;
}

export class QueueFullError extends Error {
  constructor(readonly maxQueue: number) {
    super(`The server is at capacity: ${maxQueue} requests are already waiting. Retry later.`);
    this.name = "QueueFullError";
  }
}

export class QueueTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`The request waited ${Math.round(timeoutMs / 1000)} s for a free sequence without getting one. The server is overloaded; retry later.`);
    this.name = "QueueTimeoutError";
  }
}

export class ContextLengthError extends Error {
  constructor(readonly contextSize: number, readonly promptTokens: number, readonly maxTokens?: number) {
    super(
      maxTokens === undefined
        ? `This model's maximum context length is ${contextSize} tokens, but the prompt has ${promptTokens} tokens.`
        : `This model's maximum context length is ${contextSize} tokens. However, you requested ${promptTokens + maxTokens} tokens (${promptTokens} in the prompt, ${maxTokens} for the completion).`,
    );
    this.name = "ContextLengthError";
  }
}

export class EngineClosedError extends Error {
  constructor() {
    super("The engine is shutting down and accepts no new requests.");
    this.name = "EngineClosedError";
  }
}
