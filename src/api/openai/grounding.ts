/**
 * Grounded chat: a chat completion with `"rag": {vector_store_ids, max_num_results, filters,
 * score_threshold}` (or the model alias `rag:<store name or id>`) searches the stores with the
 * last user message, puts the chunks into the system prompt as numbered sources ([1], [2], …),
 * and the response carries `citations` (per source: file, text, page, heading path, offsets,
 * score), `grounded` and `retrieval`. When no chunk passes the threshold the model is told that
 * the documents do not answer, and `grounded` is false. Guardrails' retrieval rail can drop or
 * mask chunks (a RetrievedChunkFilter) before they reach the prompt.
 */
import { z } from "zod";
import type { RetrievedChunk, RetrievedChunkFilter } from "../../rag/types.js";
import { ApiError } from "../errors.js";
import type { ChatCompletionRequest } from "../protocol.js";
import type { ServerState } from "../state.js";
import { ragError, ragService } from "./common.js";
import { filterSchema } from "./schemas.js";

export const MODEL_ALIAS_PREFIX = "rag:";

const ragRequestSchema = z
  .object({
    vector_store_ids: z.array(z.string().min(1)).min(1).max(10),
    max_num_results: z.number().int().min(1).max(50).optional(),
    filters: filterSchema.nullish(),
    score_threshold: z.number().min(0).max(1).optional(),
    ranker: z.enum(["none", "auto", "default-2024-11-15"]).optional(),
  })
  .strict();

export interface Citation {
  index: number;
  vector_store_id: string;
  file_id: string;
  filename: string;
  text: string;
  page: number | null;
  heading_path: string[];
  char_start: number;
  char_end: number;
  score: number;
}

export interface Grounding {
  /** The request with the sources in its system message (and `rag:` alias replaced by the default chat model). */
  body: ChatCompletionRequest;
  citations: Citation[];
  grounded: boolean;
  retrieval: { search_query: string; query_truncated: boolean; withheld: number; masked: number };
}

type Message = ChatCompletionRequest["messages"][number];

function textOf(content: Message["content"]): string {
  if (content == null) return "";
  return typeof content === "string" ? content : content.map((p) => ("text" in p ? p.text : "")).join(" ");
}

function location(c: RetrievedChunk): string {
  const parts = [c.filename];
  if (c.chunk.page !== undefined) parts.push(`page ${c.chunk.page}`);
  if (c.chunk.headingPath.length > 0) parts.push(c.chunk.headingPath.join(" > "));
  return parts.join(", ");
}

/** The instructions and numbered sources put before the conversation. */
export function sourcesPrompt(chunks: readonly RetrievedChunk[]): string {
  if (chunks.length === 0) {
    return "No passage of the documents searched is relevant enough to this question. Say that the documents do not answer it; do not invent sources or citations.";
  }
  const sources = chunks.map((c, i) => `[${i + 1}] (${location(c)})\n${c.chunk.text.trim()}`).join("\n\n");
  return `Answer the question using only the numbered sources below. After each statement, cite the sources it comes from as [n]. If the sources do not answer the question, say so.\n\nSources:\n\n${sources}`;
}

/** Grounds a chat request when it asks for it (a `rag` field or a `rag:` model); undefined otherwise. */
export async function groundChat(state: ServerState, body: ChatCompletionRequest, filter?: RetrievedChunkFilter): Promise<Grounding | undefined> {
  const raw = (body as { rag?: unknown }).rag;
  const alias = typeof body.model === "string" && body.model.startsWith(MODEL_ALIAS_PREFIX) ? body.model.slice(MODEL_ALIAS_PREFIX.length) : undefined;
  if (raw == null && alias === undefined) return undefined;
  let options: z.infer<typeof ragRequestSchema> = { vector_store_ids: [] };
  if (raw != null) {
    const parsed = ragRequestSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const param = ["rag", ...issue.path.map(String)].join(".");
      throw ApiError.invalid(`Invalid value for '${param}': ${issue.code === "unrecognized_keys" ? `Unrecognized parameter(s): ${issue.keys.join(", ")}` : issue.message}`, param);
    }
    options = parsed.data;
  }
  const service = await ragService(state);
  let storeIds: string[];
  try {
    storeIds = await Promise.all([...options.vector_store_ids, ...(alias !== undefined ? [alias] : [])].map(async (s) => (await service.getStore(s)).id));
  } catch (err) {
    const mapped = ragError(err);
    if (mapped instanceof ApiError && mapped.status === 404) throw new ApiError(404, mapped.message, "invalid_request_error", alias !== undefined ? "model" : "rag.vector_store_ids", "not_found");
    throw mapped;
  }
  const lastUser = [...body.messages].reverse().find((m) => m.role === "user");
  const query = textOf(lastUser?.content ?? "").trim();
  if (!query) throw ApiError.invalid("Grounded chat needs a user message with text to search for.", "messages");
  let result;
  try {
    result = await service.retriever.search([...new Set(storeIds)], query, {
      maxResults: options.max_num_results ?? 5,
      ...(options.filters ? { filters: options.filters } : {}),
      ...(options.score_threshold !== undefined ? { scoreThreshold: options.score_threshold } : {}),
      ...(options.ranker ? { ranker: options.ranker } : {}),
    });
  } catch (err) {
    throw ragError(err);
  }
  let chunks: RetrievedChunk[] = result.results;
  let withheld = 0;
  let masked = 0;
  if (filter && chunks.length > 0) ({ chunks, withheld, masked } = await filter(chunks));

  const prompt = sourcesPrompt(chunks);
  const messages = [...body.messages];
  const first = messages[0];
  if (first && (first.role === "system" || first.role === "developer")) messages[0] = { ...first, content: `${textOf(first.content)}\n\n${prompt}` } as Message;
  else messages.unshift({ role: "system", content: prompt });
  const grounded: ChatCompletionRequest = { ...body, messages };
  delete (grounded as { rag?: unknown }).rag;
  if (alias !== undefined) delete (grounded as { model?: unknown }).model;
  return {
    body: grounded,
    grounded: chunks.length > 0,
    citations: chunks.map((c, i) => ({
      index: i + 1,
      vector_store_id: c.vectorStoreId,
      file_id: c.fileId,
      filename: c.filename,
      text: c.chunk.text,
      page: c.chunk.page ?? null,
      heading_path: c.chunk.headingPath,
      char_start: c.chunk.charStart,
      char_end: c.chunk.charEnd,
      score: c.score,
    })),
    retrieval: { search_query: result.searchQuery, query_truncated: result.truncated, withheld, masked },
  };
}
