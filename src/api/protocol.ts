/**
 * The OpenAI/NIM protocol: request schemas (validated at the edge with zod) and response types,
 * in one place for every endpoint family.
 */
import { z } from "zod";
import type { chatLogprobs, completionLogprobs } from "./openai/logprobs.js";

type ChatLogprobs = ReturnType<typeof chatLogprobs>;
type CompletionLogprobs = ReturnType<typeof completionLogprobs>;

/** OpenAI's deprecated function-calling fields: rejected with a 400 that points to their replacement. */
const DEPRECATED = { functions: "tools", function_call: "tool_choice" } as const;

const stop = z.union([z.string(), z.array(z.string()).max(16)]).nullable().optional();

/** Sampling and length fields shared by chat and completions (OpenAI's plus vLLM/NIM's extensions). */
/** Ollama's keep_alive: how long the model stays loaded after this request (seconds or a duration; 0 unloads, negative keeps). */
const keepAlive = z.union([z.string().max(32), z.number()]).nullable().optional();

const samplingFields = {
  model: z.string().optional(),
  keep_alive: keepAlive,
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().gt(0).max(1).nullable().optional(),
  top_k: z.number().int().min(-1).nullable().optional(),
  min_p: z.number().min(0).max(1).nullable().optional(),
  seed: z.number().int().nullable().optional(),
  repetition_penalty: z.number().gt(0).max(2).nullable().optional(),
  presence_penalty: z.number().min(-2).max(2).nullable().optional(),
  frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
  stop,
  max_tokens: z.number().int().positive().nullable().optional(),
  min_tokens: z.number().int().nonnegative().nullable().optional(),
  ignore_eos: z.boolean().nullable().optional(),
  n: z.number().int().min(1).max(16).nullable().optional(),
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().nullable().optional() }).nullable().optional(),
  user: z.string().optional(),
  /** Structured output: OpenAI's response_format, and vLLM/NIM's guided_* fields. */
  response_format: z
    .discriminatedUnion("type", [
      z.object({ type: z.literal("text") }),
      z.object({ type: z.literal("json_object") }),
      z.object({
        type: z.literal("json_schema"),
        json_schema: z.object({ name: z.string().optional(), description: z.string().optional(), schema: z.record(z.unknown()).optional(), strict: z.boolean().nullable().optional() }),
      }),
    ])
    .nullable()
    .optional(),
  guided_json: z.union([z.record(z.unknown()), z.string()]).nullable().optional(),
  guided_choice: z.array(z.string().min(1)).min(1).max(256).nullable().optional(),
  guided_regex: z.string().min(1).max(10_000).nullable().optional(),
  guided_grammar: z.string().min(1).nullable().optional(),
  /** Token id (as a string key) → bias added to its logit, -100 to 100; -100 bans the token. */
  logit_bias: z.record(z.string().regex(/^\d+$/, "keys must be token ids"), z.number().min(-100).max(100)).nullable().optional(),
};

function rejectUnsupported(body: Record<string, unknown>, ctx: z.RefinementCtx): void {
  for (const [key, replacement] of Object.entries(DEPRECATED)) {
    const v = body[key];
    if (v === undefined || v === null || (Array.isArray(v) && v.length === 0) || v === "none") continue;
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key], message: `${key} is deprecated and not supported: use ${replacement}` });
  }
  const constraints = ["response_format", "guided_json", "guided_choice", "guided_regex", "guided_grammar"].filter((k) => body[k] != null && !(k === "response_format" && (body[k] as { type?: string }).type === "text"));
  if (constraints.length > 1) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [constraints[1]!], message: `only one output constraint at a time (got ${constraints.join(" and ")})` });
  // Once the grammar is complete only the end of generation is allowed, which min_tokens bans.
  if (constraints.length > 0 && typeof body.min_tokens === "number" && body.min_tokens > 0) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["min_tokens"], message: `min_tokens cannot be combined with ${constraints[0]}: the grammar decides where the output ends` });
  }
}

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const content = z.union([z.string(), z.array(textPart).min(1)]);

/** A function name as OpenAI allows it. */
const functionName = z.string().regex(/^[a-zA-Z0-9_.-]{1,64}$/, "function names are 1–64 letters, digits, underscores, dots or dashes");

/** A call the assistant made, sent back in the conversation. `arguments` is JSON text. */
const toolCallSchema = z.object({
  id: z.string().min(1),
  type: z.literal("function"),
  function: z.object({ name: functionName, arguments: z.string() }),
});

export const chatMessageSchema = z.discriminatedUnion("role", [
  z.object({ role: z.literal("system"), content, name: z.string().optional() }),
  z.object({ role: z.literal("developer"), content, name: z.string().optional() }),
  z.object({ role: z.literal("user"), content, name: z.string().optional() }),
  z.object({ role: z.literal("assistant"), content: content.nullable().optional(), name: z.string().optional(), tool_calls: z.array(toolCallSchema).max(128).nullable().optional() }),
  z.object({ role: z.literal("tool"), content, tool_call_id: z.string().min(1) }),
]);

export const functionToolSchema = z.object({
  type: z.literal("function"),
  function: z.object({
    name: functionName,
    description: z.string().optional(),
    parameters: z.record(z.unknown()).optional(),
    strict: z.boolean().nullable().optional(),
  }),
});

export type FunctionTool = z.infer<typeof functionToolSchema>;
export type ToolChoice = "none" | "auto" | "required" | { type: "function"; function: { name: string } };

const toolFields = {
  tools: z.array(functionToolSchema).max(128).nullable().optional(),
  tool_choice: z
    .union([z.enum(["none", "auto", "required"]), z.object({ type: z.literal("function"), function: z.object({ name: z.string() }) })])
    .nullable()
    .optional(),
  parallel_tool_calls: z.boolean().nullable().optional(),
};

/** Tools must have distinct names; a forced call needs tools, and a named one a tool of that name. */
function checkTools(body: { tools?: FunctionTool[] | null; tool_choice?: ToolChoice | null }, ctx: z.RefinementCtx): void {
  const names = (body.tools ?? []).map((t) => t.function.name);
  names.forEach((name, i) => {
    if (names.indexOf(name) !== i) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["tools", i, "function", "name"], message: `duplicate tool name "${name}"` });
  });
  const choice = body.tool_choice;
  if (choice == null || choice === "none" || choice === "auto") return;
  if (names.length === 0) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["tool_choice"], message: "tool_choice forces a tool call but no tools are given" });
  else if (typeof choice === "object" && !names.includes(choice.function.name)) {
    ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["tool_choice", "function", "name"], message: `no tool named "${choice.function.name}" in tools` });
  }
}

export const chatCompletionRequestSchema = z
  .object({
    ...samplingFields,
    ...toolFields,
    messages: z.array(chatMessageSchema).min(1),
    max_completion_tokens: z.number().int().positive().nullable().optional(),
    logprobs: z.boolean().nullable().optional(),
    top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
  })
  .passthrough()
  .superRefine((body, ctx) => {
    rejectUnsupported(body, ctx);
    checkTools(body, ctx);
    if (body.top_logprobs != null && body.logprobs !== true) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["top_logprobs"], message: "top_logprobs needs logprobs: true" });
    }
  });

export const completionRequestSchema = z
  .object({
    ...samplingFields,
    prompt: z.union([z.string(), z.array(z.string()).min(1).max(64)]),
    logprobs: z.number().int().min(0).max(20).nullable().optional(),
    echo: z.boolean().nullable().optional(),
    suffix: z.string().nullable().optional(),
  })
  .passthrough()
  .superRefine((body, ctx) => {
    rejectUnsupported(body, ctx);
    if (body.echo) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["echo"], message: "echo is not supported by this server yet" });
    if (body.suffix) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["suffix"], message: "suffix is not supported by this server yet" });
  });

/** vLLM's POST /tokenize (a prompt or chat messages), with llama.cpp's `content` and `add_special` accepted as aliases. */
export const tokenizeRequestSchema = z
  .object({
    model: z.string().optional(),
    prompt: z.string().optional(),
    content: z.string().optional(),
    messages: z.array(chatMessageSchema).min(1).optional(),
    ...toolFields,
    add_special_tokens: z.boolean().optional(),
    add_special: z.boolean().optional(),
  })
  .passthrough()
  .superRefine((body, ctx) => {
    const given = [body.prompt, body.content, body.messages].filter((v) => v !== undefined).length;
    if (given !== 1) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["prompt"], message: "give exactly one of prompt (or content) and messages" });
    checkTools(body, ctx);
  });

export const detokenizeRequestSchema = z.object({
  model: z.string().optional(),
  tokens: z.array(z.number().int().nonnegative()).max(1_000_000),
}).passthrough();

export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;
export type CompletionRequest = z.infer<typeof completionRequestSchema>;
export type SamplingRequest = Pick<ChatCompletionRequest, keyof typeof samplingFields> & { max_completion_tokens?: number | null };

export type FinishReasonOut = "stop" | "length" | "tool_calls" | "content_filter";

/** A call in a response: `arguments` is the JSON text the model wrote. */
export interface ToolCallOut {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** A streamed fragment of a call: the first carries id and name, later ones more `arguments` text. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: "function";
  function: { name?: string; arguments: string };
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

export interface ChatCompletionResponse {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  system_fingerprint: string;
  choices: { index: number; message: { role: "assistant"; content: string | null; tool_calls?: ToolCallOut[] }; logprobs: ChatLogprobs | null; finish_reason: FinishReasonOut }[];
  usage: Usage;
  /** Nimble: schema keywords the grammar did not enforce, and whether the output met them (see docs/API.md). */
  structured_output?: { unenforced: string[]; valid: boolean; errors?: string[] };
}

export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  system_fingerprint: string;
  choices: { index: number; delta: { role?: "assistant"; content?: string; tool_calls?: ToolCallDelta[] }; logprobs: ChatLogprobs | null; finish_reason: FinishReasonOut | null }[];
  usage?: Usage | null;
}

export interface CompletionResponse {
  id: string;
  object: "text_completion";
  created: number;
  model: string;
  system_fingerprint: string;
  choices: { index: number; text: string; logprobs: CompletionLogprobs | null; finish_reason: FinishReasonOut | null }[];
  usage?: Usage | null;
}

export interface ModelCard {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
  root: string;
  /** For a LoRA adapter: the model it adapts. */
  parent: string | null;
  /** Tokens one request may use (null while the model is not loaded). */
  max_model_len: number | null;
  /** Nimble's own notes: the demo model's warning, the kind and state of the model, its memory. */
  nimble?: Record<string, unknown>;
}

// ---- Anthropic Messages (POST /v1/messages) ----

const anthropicTextBlock = z.object({ type: z.literal("text"), text: z.string() }).passthrough();
/** Content blocks other than text (images, tool use) are rejected with a clear 400 until supported. */
const anthropicBlock = z
  .object({ type: z.string() })
  .passthrough()
  .superRefine((b, ctx) => {
    if (b.type !== "text") ctx.addIssue({ code: z.ZodIssueCode.custom, message: `content blocks of type "${b.type}" are not supported by this server yet` });
    else if (typeof (b as { text?: unknown }).text !== "string") ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["text"], message: "Expected string" });
  });

const anthropicMessagesFields = {
  model: z.string().optional(),
  messages: z
    .array(z.object({ role: z.enum(["user", "assistant"]), content: z.union([z.string(), z.array(anthropicBlock).min(1)]) }))
    .min(1),
  system: z.union([z.string(), z.array(anthropicTextBlock)]).optional(),
};

export const anthropicMessagesRequestSchema = z
  .object({
    ...anthropicMessagesFields,
    max_tokens: z.number().int().positive(),
    stop_sequences: z.array(z.string()).max(16).optional(),
    temperature: z.number().min(0).max(1).optional(),
    top_p: z.number().gt(0).max(1).optional(),
    top_k: z.number().int().positive().optional(),
    stream: z.boolean().optional(),
    metadata: z.object({ user_id: z.string().nullable().optional() }).passthrough().optional(),
  })
  .passthrough()
  .superRefine((body, ctx) => {
    for (const key of ["tools", "tool_choice", "thinking"]) {
      if (body[key] != null) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key], message: "this parameter is not supported by this server yet" });
    }
  });

export const anthropicCountTokensRequestSchema = z.object(anthropicMessagesFields).passthrough();

export type AnthropicMessagesRequest = z.infer<typeof anthropicMessagesRequestSchema>;
export type AnthropicStopReason = "end_turn" | "max_tokens" | "stop_sequence";

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
}

export interface AnthropicMessage {
  id: string;
  type: "message";
  role: "assistant";
  model: string;
  content: { type: "text"; text: string }[];
  stop_reason: AnthropicStopReason | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
}

// ---- Embeddings (POST /v1/embeddings) ----

const tokenIds = z.array(z.number().int().nonnegative()).min(1);

export const embeddingsRequestSchema = z
  .object({
    model: z.string().optional(),
    keep_alive: keepAlive,
    input: z.union([z.string(), z.array(z.string()).min(1).max(2048), tokenIds, z.array(tokenIds).min(1).max(2048)]),
    encoding_format: z.enum(["float", "base64"]).nullable().optional(),
    dimensions: z.number().int().positive().nullable().optional(),
    /** NIM: asymmetric models prefix queries and passages differently. */
    input_type: z.enum(["query", "passage"]).nullable().optional(),
    /** NIM: what to do with input longer than the model takes (NONE: a 400). */
    truncate: z.enum(["NONE", "START", "END"]).nullable().optional(),
    user: z.string().optional(),
  })
  .passthrough();

export type EmbeddingsRequest = z.infer<typeof embeddingsRequestSchema>;

// ---- Reranking (POST /v1/ranking: NIM; POST /v1/rerank, /rerank, /v2/rerank: Cohere, Jina, llama.cpp, vLLM) ----

/** Most documents one request may rank (Cohere's limit). */
export const MAX_RERANK_DOCUMENTS = 1000;

const nonEmptyText = z.string().min(1, "must not be empty");
/** NIM: what to do with a query/document pair longer than the model takes (NONE: a 400; END: cut the document's tail). */
const rerankTruncate = z.enum(["NONE", "END"]).nullable().optional();

export const rankingRequestSchema = z
  .object({
    model: z.string().optional(),
    query: z.object({ text: nonEmptyText }).passthrough(),
    passages: z.array(z.object({ text: nonEmptyText }).passthrough()).min(1, "must hold at least one passage").max(MAX_RERANK_DOCUMENTS),
    truncate: rerankTruncate,
  })
  .passthrough();

export type RankingRequest = z.infer<typeof rankingRequestSchema>;

export const rerankRequestSchema = z
  .object({
    model: z.string().optional(),
    query: nonEmptyText,
    /** Strings, or objects with a `text` (Cohere v1 and Jina take both). */
    documents: z
      .array(
        z.union([nonEmptyText, z.object({ text: nonEmptyText }).passthrough()], {
          errorMap: () => ({ message: "each document must be a non-empty string or an object with a non-empty text" }),
        }),
      )
      .min(1, "must hold at least one document")
      .max(MAX_RERANK_DOCUMENTS),
    top_n: z.number().int().positive().nullable().optional(),
    return_documents: z.boolean().nullable().optional(),
    truncate: rerankTruncate,
    user: z.string().optional(),
  })
  .passthrough();

export type RerankRequest = z.infer<typeof rerankRequestSchema>;

export interface RankingResponse {
  rankings: { index: number; logit: number }[];
  usage: { prompt_tokens: number; total_tokens: number };
}

export interface RerankResponse {
  id: string;
  model: string;
  results: { index: number; relevance_score: number; document?: { text: string } }[];
  usage: { prompt_tokens: number; total_tokens: number };
}
