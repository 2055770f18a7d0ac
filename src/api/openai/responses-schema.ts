/**
 * The Responses API's request shapes (POST /v1/responses, GET /v1/responses/{id}, input_items),
 * validated at the edge with zod, and the response object's types. Fields Nimble does not
 * implement are rejected with a 400 naming them (`.strict()` plus explicit checks), never ignored.
 */
import { z } from "zod";
import type { StructuredOutputReport } from "./structured-check.js";

const functionName = z.string().regex(/^[a-zA-Z0-9_.-]{1,64}$/, "function names are 1–64 letters, digits, underscores, dots or dashes");

const inputText = z.object({ type: z.literal("input_text"), text: z.string() }).strict();
/** Assistant text sent back as input (a replayed output message); its annotations and logprobs are not used. */
const outputText = z.object({ type: z.literal("output_text"), text: z.string(), annotations: z.array(z.unknown()).optional(), logprobs: z.array(z.unknown()).nullable().optional() }).strict();
const refusal = z.object({ type: z.literal("refusal"), refusal: z.string() }).strict();
const contentPart = z.discriminatedUnion("type", [inputText, outputText, refusal], {
  errorMap: (issue, ctx) => (issue.code === "invalid_union_discriminator" ? { message: "only input_text, output_text and refusal content parts are supported by this server" } : { message: ctx.defaultError }),
});

const status = z.enum(["in_progress", "completed", "incomplete"]).optional();

const messageItem = z
  .object({
    type: z.literal("message"),
    id: z.string().optional(),
    role: z.enum(["user", "assistant", "system", "developer"]),
    content: z.union([z.string(), z.array(contentPart)]),
    status,
  })
  .strict();

const functionCallItem = z
  .object({ type: z.literal("function_call"), id: z.string().optional(), call_id: z.string().min(1), name: functionName, arguments: z.string(), status })
  .strict();

const functionCallOutputItem = z
  .object({ type: z.literal("function_call_output"), id: z.string().nullable().optional(), call_id: z.string().min(1), output: z.union([z.string(), z.array(contentPart)]), status: status.nullable() })
  .strict();

/** OpenAI's "easy" message form has no `type`: it is a message. */
const inputItem = z.preprocess(
  (v) => (v && typeof v === "object" && !Array.isArray(v) && !("type" in v) && "role" in v ? { ...v, type: "message" } : v),
  z.discriminatedUnion("type", [messageItem, functionCallItem, functionCallOutputItem], {
    errorMap: (issue, ctx) => (issue.code === "invalid_union_discriminator" ? { message: "only message, function_call and function_call_output input items are supported by this server" } : { message: ctx.defaultError }),
  }),
);

const inputItems = z.array(inputItem);

export type InputItem = z.infer<typeof messageItem> | z.infer<typeof functionCallItem> | z.infer<typeof functionCallOutputItem>;

const functionTool = z
  .object({
    type: z.literal("function"),
    name: functionName,
    description: z.string().nullable().optional(),
    parameters: z.record(z.unknown()).nullable().optional(),
    strict: z.boolean().nullable().optional(),
  })
  .strict();

const comparison = z.object({ type: z.enum(["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]), key: z.string(), value: z.unknown() }).passthrough();
const fileSearchTool = z
  .object({
    type: z.literal("file_search"),
    vector_store_ids: z.array(z.string().min(1)).min(1).max(16),
    max_num_results: z.number().int().min(1).max(50).optional(),
    filters: z.union([comparison, z.object({ type: z.enum(["and", "or"]), filters: z.array(z.unknown()) }).passthrough()]).nullable().optional(),
    ranking_options: z
      .object({ ranker: z.string().optional(), score_threshold: z.number().min(0).max(1).optional() })
      .strict()
      .optional(),
  })
  .strict();

const tool = z.discriminatedUnion("type", [functionTool, fileSearchTool], {
  errorMap: (issue, ctx) => (issue.code === "invalid_union_discriminator" ? { message: "only function and file_search tools are supported by this server" } : { message: ctx.defaultError }),
});

export type FunctionToolParam = z.infer<typeof functionTool>;
export type FileSearchToolParam = z.infer<typeof fileSearchTool>;

const textFormat = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text") }).strict(),
  z.object({ type: z.literal("json_object") }).strict(),
  z
    .object({
      type: z.literal("json_schema"),
      name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "names are 1–64 letters, digits, underscores or dashes"),
      schema: z.record(z.unknown()),
      description: z.string().optional(),
      strict: z.boolean().nullable().optional(),
    })
    .strict(),
]);

export type TextFormat = z.infer<typeof textFormat>;

export const INCLUDABLE = ["file_search_call.results", "message.output_text.logprobs"] as const;

/** Accepted only at the value that means "off" (what Nimble does anyway). */
const offOnly = <T extends z.ZodTypeAny>(schema: T, message: string) => schema.nullable().optional().refine((v) => v == null, { message });

export const responseCreateSchema = z
  .object({
    model: z.string().optional(),
    input: z.union([z.string(), z.array(z.unknown()).min(1)]).transform((input, ctx): string | InputItem[] => {
      if (typeof input === "string") return input;
      const parsed = inputItems.safeParse(input);
      if (parsed.success) return parsed.data;
      // Issues keep their place in the input (input.0.type), unlike a union's.
      for (const issue of parsed.error.issues) ctx.addIssue(issue);
      return z.NEVER;
    }),
    instructions: z.string().nullable().optional(),
    previous_response_id: z.string().nullable().optional(),
    store: z.boolean().nullable().optional(),
    stream: z.boolean().nullable().optional(),
    background: z.boolean().nullable().optional().refine((v) => v !== true, { message: "background responses are not supported by this server; stream the response, or create it and GET /v1/responses/{id}" }),
    tools: z.array(tool).max(128).nullable().optional(),
    tool_choice: z
      .union([z.enum(["none", "auto", "required"]), z.object({ type: z.literal("function"), name: z.string() }).strict(), z.object({ type: z.literal("file_search") }).strict()])
      .nullable()
      .optional(),
    parallel_tool_calls: z.boolean().nullable().optional(),
    text: z.object({ format: textFormat.optional(), verbosity: z.literal("medium").nullable().optional() }).strict().nullable().optional(),
    max_output_tokens: z.number().int().positive().nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: z.number().gt(0).max(1).nullable().optional(),
    top_logprobs: z.number().int().min(0).max(20).nullable().optional(),
    metadata: z
      .record(z.string().max(64, "metadata keys are at most 64 characters"), z.string().max(512, "metadata values are at most 512 characters"))
      .refine((m) => Object.keys(m).length <= 16, { message: "at most 16 metadata pairs" })
      .nullable()
      .optional(),
    user: z.string().max(256).optional(),
    include: z.array(z.enum(INCLUDABLE)).nullable().optional(),
    truncation: z.enum(["disabled"], { errorMap: () => ({ message: 'only "disabled" is supported by this server' }) }).nullable().optional(),
    reasoning: offOnly(z.unknown(), "reasoning is not supported by this server (its models have no reasoning mode)"),
    stream_options: z.object({ include_obfuscation: z.boolean().optional() }).strict().nullable().optional(),
    /** Nimble extension: the seed of the sampler (as on chat completions). */
    seed: z.number().int().nullable().optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    const names = (body.tools ?? []).flatMap((t) => (t.type === "function" ? [t.name] : []));
    names.forEach((name, i) => {
      if (names.indexOf(name) !== i) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["tools"], message: `duplicate tool name "${name}"` });
    });
    const fileSearch = (body.tools ?? []).filter((t) => t.type === "file_search");
    if (fileSearch.length > 1) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["tools"], message: "at most one file_search tool" });
    const choice = body.tool_choice;
    if (choice != null && choice !== "none" && choice !== "auto") {
      if ((body.tools ?? []).length === 0) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["tool_choice"], message: "tool_choice forces a tool call but no tools are given" });
      else if (typeof choice === "object" && choice.type === "function" && !names.includes(choice.name)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["tool_choice", "name"], message: `no function tool named "${choice.name}" in tools` });
      else if (typeof choice === "object" && choice.type === "file_search" && fileSearch.length === 0) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["tool_choice"], message: "tool_choice names file_search but no file_search tool is given" });
    }
  });

export type ResponseCreateRequest = z.infer<typeof responseCreateSchema>;

export const retrieveQuerySchema = z
  .object({
    stream: z.enum(["true", "false"]).optional(),
    starting_after: z.coerce.number().int().min(0).optional(),
    include: z.union([z.string(), z.array(z.string())]).optional(),
    include_obfuscation: z.string().optional(),
  })
  .strict();

export const inputItemsQuerySchema = z
  .object({
    after: z.string().optional(),
    before: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(100).optional(),
    order: z.enum(["asc", "desc"]).optional(),
    include: z.union([z.string(), z.array(z.string())]).optional(),
  })
  .strict();

// ---- The response object ----

export interface Annotation {
  type: "file_citation";
  index: number;
  file_id: string;
  filename: string;
}

export interface OutputTextPart {
  type: "output_text";
  text: string;
  annotations: Annotation[];
  logprobs?: unknown[];
}

export interface OutputMessage {
  id: string;
  type: "message";
  status: "in_progress" | "completed" | "incomplete";
  role: "assistant";
  content: OutputTextPart[];
}

export interface FunctionCallOutputItem {
  id: string;
  type: "function_call";
  status: "in_progress" | "completed" | "incomplete";
  call_id: string;
  name: string;
  arguments: string;
}

export interface FileSearchCall {
  id: string;
  type: "file_search_call";
  status: "in_progress" | "searching" | "completed" | "failed";
  queries: string[];
  results: { file_id: string; filename: string; score: number; text: string; attributes: Record<string, unknown> }[] | null;
}

export type OutputItem = OutputMessage | FunctionCallOutputItem | FileSearchCall;

export type ResponseStatus = "queued" | "in_progress" | "completed" | "incomplete" | "failed" | "cancelled";

export interface ResponseObject {
  id: string;
  object: "response";
  created_at: number;
  completed_at?: number | null;
  status: ResponseStatus;
  background: boolean;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: "max_output_tokens" | "content_filter" } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  metadata: Record<string, string>;
  model: string;
  output: OutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  store: boolean;
  temperature: number;
  top_p: number;
  top_logprobs: number | null;
  text: { format: TextFormat };
  tool_choice: unknown;
  tools: unknown[];
  truncation: "disabled";
  user: string | null;
  usage: {
    input_tokens: number;
    input_tokens_details: { cached_tokens: number };
    output_tokens: number;
    output_tokens_details: { reasoning_tokens: number };
    total_tokens: number;
  } | null;
  /** Nimble: schema keywords a grammar could not enforce (checked after generation instead); see docs/API.md. */
  structured_output?: StructuredOutputReport;
}
