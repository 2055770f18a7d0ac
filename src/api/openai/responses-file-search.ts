/**
 * The Responses API's file_search tool over Nimble's vector stores. Local models rarely decide
 * to call a search tool well, so Nimble runs the search itself whenever the tool is offered (and
 * tool_choice allows it): the query is the conversation's last user message, the chunks found
 * go into the prompt as numbered sources, and the answer cites their files (file_citation
 * annotations at the end of its text).
 */
import type { Retriever, SearchFilter } from "../../rag/types.js";
import { ApiError } from "../errors.js";
import type { ChatHistory } from "./responses-store.js";
import { itemId } from "./responses-convert.js";
import type { Annotation, FileSearchCall, FileSearchToolParam, ResponseCreateRequest } from "./responses-schema.js";

export interface FileSearchOutcome {
  call: FileSearchCall;
  /** The sources, as text put before the question. */
  context: string;
  /** One citation per file that gave a source. */
  annotations: Annotation[];
}

/** Whether the request's tool_choice lets the file_search tool run. */
export function fileSearchWanted(body: ResponseCreateRequest): boolean {
  const choice = body.tool_choice;
  if (choice === "none") return false;
  if (choice != null && typeof choice === "object" && choice.type === "function") return false;
  return (body.tools ?? []).some((t) => t.type === "file_search");
}

function lastUserText(history: ChatHistory): string | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const m = history[i]!;
    if (m.role === "user") return typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join("\n");
  }
  return undefined;
}

export async function runFileSearch(retriever: Retriever | undefined, tool: FileSearchToolParam, history: ChatHistory, signal: AbortSignal): Promise<FileSearchOutcome | undefined> {
  if (!retriever) {
    throw new ApiError(400, "The file_search tool needs vector stores, and this server has none configured.", "invalid_request_error", "tools", "file_search_unavailable");
  }
  const query = lastUserText(history);
  if (query === undefined || query.trim().length === 0) return undefined;
  let found;
  try {
    found = await retriever.search(tool.vector_store_ids, query, {
      maxResults: tool.max_num_results ?? 10,
      ...(tool.filters ? { filters: tool.filters as SearchFilter } : {}),
      ...(tool.ranking_options?.score_threshold !== undefined ? { scoreThreshold: tool.ranking_options.score_threshold } : {}),
      ...(tool.ranking_options?.ranker !== undefined ? { ranker: tool.ranking_options.ranker } : {}),
      signal,
    });
  } catch (err) {
    // The retriever's own ApiErrors (an unknown vector store: 404) pass through.
    if (err instanceof ApiError) throw err;
    throw new ApiError(400, `file_search failed: ${(err as Error).message}`, "invalid_request_error", "tools", "file_search_failed");
  }
  const results = found.results.map((r) => ({ file_id: r.fileId, filename: r.filename, score: r.score, text: r.chunk.text, attributes: r.attributes as Record<string, unknown> }));
  const call: FileSearchCall = { id: itemId("fs"), type: "file_search_call", status: "completed", queries: [found.searchQuery], results };
  const sources = results.map((r, i) => `[${i + 1}] (${r.filename})\n${r.text}`).join("\n\n");
  const context = results.length > 0 ? `Answer using these sources:\n\n${sources}\n\nQuestion:` : "";
  const files = new Map<string, string>();
  for (const r of results) if (!files.has(r.file_id)) files.set(r.file_id, r.filename);
  const annotations = [...files].map(([file_id, filename]) => ({ type: "file_citation" as const, index: 0, file_id, filename }));
  return { call, context, annotations };
}

/** The history with the sources put in front of the last user message (for the prompt only; the stored history keeps the question alone). */
export function withSources(history: ChatHistory, context: string): ChatHistory {
  if (context.length === 0) return history;
  const out = [...history];
  for (let i = out.length - 1; i >= 0; i--) {
    const m = out[i]!;
    if (m.role !== "user") continue;
    const text = typeof m.content === "string" ? m.content : m.content.map((p) => p.text).join("\n");
    out[i] = { ...m, content: `${context}\n${text}` };
    break;
  }
  return out;
}
