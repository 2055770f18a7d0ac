/**
 * OpenAI's Responses API: POST /v1/responses (plain or streamed), GET /v1/responses/{id} (also
 * re-attaching to its stream), DELETE, GET …/input_items and POST …/cancel. Generation goes
 * through the chat machinery (template, tools, grammars); conversations continue from stored
 * responses (previous_response_id), which belong to the API key that created them.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { GenerationResult } from "../../engine/types.js";
import { ApiError, toApiError } from "../errors.js";
import { awaitStarted, cancellation, startAll, toGenerationRequest, usageOf } from "../generation.js";
import { compileGrammar, requestGrammar } from "./guided.js";
import { untilExpired } from "../security/limits.js";
import { chatLogprobs } from "./logprobs.js";
import type { SamplingRequest } from "../protocol.js";
import { SseWriter } from "../sse.js";
import { parseBody, type ServerState } from "../state.js";
import { useChatModel } from "../targets.js";
import { planTools, renderConversation, ToolCallParser } from "./tool-calls.js";
import { checkStructuredOutput } from "./structured-check.js";
import { chatToolFields, inputItems, itemId, outputToChat, storedInputItems, toChatMessages } from "./responses-convert.js";
import { OutputBuilder, ResponseEvents, snapshot, type StreamEvent } from "./responses-events.js";
import { fileSearchWanted, runFileSearch, withSources } from "./responses-file-search.js";
import { inputItemsQuerySchema, responseCreateSchema, retrieveQuerySchema, type ResponseCreateRequest, type ResponseObject } from "./responses-schema.js";
import type { ResponseStore, StoredResponse } from "./responses-store.js";

/** A response still being generated. */
interface Running {
  owner: string;
  response: ResponseObject;
  events: ResponseEvents;
  cancel: AbortController;
  done: Promise<void>;
}

/** The request body, validated; an unknown field is a 400 naming it. */
function parseRequest(raw: unknown): ResponseCreateRequest {
  if (raw && typeof raw === "object" && !Array.isArray(raw)) {
    const known = new Set(Object.keys(responseCreateSchema._def.schema.shape));
    const unknown = Object.keys(raw).find((k) => !known.has(k));
    if (unknown !== undefined) throw ApiError.invalid(`Unrecognized parameter: '${unknown}' is not supported by this server's Responses API`, unknown, "unsupported_parameter");
  }
  return parseBody(responseCreateSchema, raw);
}

/** Whose responses a request sees: its API key's (everyone's the same when the server has no keys). */
function ownerOf(request: FastifyRequest): string {
  return request.apiKey ? `key:${request.apiKey.hash}` : "";
}

function notFound(id: string): ApiError {
  return new ApiError(404, `No response found with id '${id}'.`, "invalid_request_error", null, "not_found");
}

/** Chat field names in errors from the shared machinery, as the Responses API names them. */
function responsesParams(err: unknown): unknown {
  if (!(err instanceof ApiError)) return err;
  const rename = (s: string) =>
    s
      .replace(/response_format\.json_schema\.schema/g, "text.format.schema")
      .replace(/response_format/g, "text.format")
      .replace(/tools\[(\d+)\]\.function\.parameters/g, "tools[$1].parameters")
      .replace(/\bmax_tokens\b/g, "max_output_tokens")
      .replace(/'messages'/g, "'input'");
  return new ApiError(err.status, rename(err.message), err.type, err.param === null ? null : rename(err.param === "messages" ? "input" : err.param), err.code, err.headers);
}

async function rethrowing<T>(work: () => Promise<T> | T): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw responsesParams(err);
  }
}

function storeOf(state: ServerState): ResponseStore {
  if (!state.responses) throw new ApiError(501, "This server keeps no responses.", "invalid_request_error", null, "not_implemented");
  return state.responses;
}

export function registerResponsesRoutes(root: FastifyInstance, state: ServerState): void {
  void root.register(async (app) => routes(app, state));
}

/**
 * An empty JSON body is no body here: the SDK sends DELETE and POST …/cancel with a JSON content
 * type and nothing in it.
 */
function acceptEmptyJson(app: FastifyInstance): void {
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    if (body === "") return done(null, undefined);
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      done(Object.assign(err as Error, { statusCode: 400 }), undefined);
    }
  });
}

function routes(app: FastifyInstance, state: ServerState): void {
  acceptEmptyJson(app);
  const running = new Map<string, Running>();

  const findRunning = (id: string, owner: string) => {
    const run = running.get(id);
    return run && run.owner === owner ? run : undefined;
  };

  app.post("/v1/responses", async (request, reply) => {
    const body = parseRequest(request.body);
    const owner = ownerOf(request);
    const store = body.store ?? true;
    let previous: StoredResponse | undefined;
    if (body.previous_response_id != null) {
      previous = state.responses?.get(body.previous_response_id, owner);
      if (!previous) throw new ApiError(404, `Previous response with id '${body.previous_response_id}' not found.`, "invalid_request_error", "previous_response_id", "previous_response_not_found");
    }
    const { engine, id: model, adapter } = await useChatModel(state, reply, body.model);
    const items = inputItems(body.input);
    const history = [...(previous?.history ?? []), ...toChatMessages(items)];
    const cancel = cancellation(request, reply);

    const fileSearchTool = (body.tools ?? []).find((t) => t.type === "file_search");
    const search = fileSearchTool && fileSearchWanted(body) ? await runFileSearch(state.retriever, fileSearchTool, history, cancel.signal) : undefined;
    const messages = [...(body.instructions ? [{ role: "system" as const, content: body.instructions }] : []), ...withSources(history, search?.context ?? "")];

    const chatFields = chatToolFields(body);
    const plan = await rethrowing(() => planTools(engine, chatFields));
    const structured = await rethrowing(() => checkStructuredOutput(chatFields as SamplingRequest));
    const promptTokens = await rethrowing(() => engine.tokenize(renderConversation(engine, messages, plan)));
    const grammar = await rethrowing(() => (plan.grammar ? compileGrammar(engine, plan.grammar, "tools") : requestGrammar(engine, chatFields as SamplingRequest)));
    const withLogprobs = body.top_logprobs != null || (body.include ?? []).includes("message.output_text.logprobs");
    const generation = await rethrowing(() =>
      toGenerationRequest(engine, { temperature: body.temperature, top_p: body.top_p, max_tokens: body.max_output_tokens, seed: body.seed }, promptTokens, {
        choice: 0,
        signal: cancel.signal,
        promptParam: "input",
        ...(withLogprobs ? { logprobs: { top: body.top_logprobs ?? 0 } } : {}),
        grammar,
        adapter,
        limits: state.limits,
        client: request.apiKey?.name,
      }),
    );
    const [choice] = startAll(engine, [generation], cancel, request.tokenBudget);

    const response = newResponse(body, model, store);
    const events = new ResponseEvents();
    const builder = new OutputBuilder(events, withLogprobs);
    response.output = builder.output;
    events.emit("response.created", { response: snapshot(response) });
    events.emit("response.in_progress", { response: snapshot(response) });
    if (search) builder.fileSearch(search.call, (body.include ?? []).includes("file_search_call.results"));
    const parser = plan.mode === "none" ? undefined : new ToolCallParser(new Set(plan.tools.map((t) => t.function.name)), plan.parallel ? Infinity : 1);

    const generate = async (): Promise<GenerationResult> => {
      for await (const piece of choice!.stream) {
        if (piece.logprobs) builder.logprobs(chatLogprobs(piece.logprobs).content);
        if (piece.text.length > 0) builder.push(parser ? parser.push(piece.text) : [{ kind: "content", text: piece.text }]);
      }
      const result = await choice!.stream.result;
      if (parser) builder.push(parser.end());
      return result;
    };
    const finish = async (): Promise<void> => {
      let result: GenerationResult | undefined;
      try {
        result = await generate();
      } catch (err) {
        cancel.abort();
        const apiError = toApiError(err);
        builder.finish("incomplete");
        Object.assign(response, { status: "failed", error: { code: apiError.code ?? "server_error", message: apiError.message } });
      }
      if (result) {
        const status = result.finishReason === "abort" ? "cancelled" : result.finishReason === "length" ? "incomplete" : "completed";
        builder.finish(status === "completed" ? "completed" : "incomplete", search?.annotations ?? []);
        const usage = usageOf([result], () => 0);
        Object.assign(response, {
          status,
          ...(status === "incomplete" ? { incomplete_details: { reason: "max_output_tokens" } } : {}),
          usage: {
            input_tokens: usage.prompt_tokens,
            input_tokens_details: { cached_tokens: usage.prompt_tokens_details.cached_tokens },
            output_tokens: usage.completion_tokens,
            output_tokens_details: { reasoning_tokens: 0 },
            total_tokens: usage.total_tokens,
          },
        });
        if (structured.check) response.structured_output = structured.check(response.output.flatMap((i) => (i.type === "message" ? i.content.map((p) => p.text) : [])).join(""));
      }
      response.completed_at = Math.floor(Date.now() / 1000);
      const terminal = response.status === "completed" ? "response.completed" : response.status === "failed" ? "response.failed" : "response.incomplete";
      events.emit(terminal, { response: snapshot(response) });
      if (store) {
        state.responses?.put({ owner, response: snapshot(response), inputItems: storedInputItems(items), history: [...history, ...outputToChat(response.output)], events: events.events });
      }
      events.finish();
      running.delete(response.id);
    };
    const done = finish();
    running.set(response.id, { owner, response, events, cancel, done });

    if (!body.stream) {
      await untilExpired(request, done);
      return snapshot(response);
    }
    await awaitStarted(request, [choice!], cancel);
    streamEvents(reply, events, -1);
    return reply;
  });

  app.get<{ Params: { id: string } }>("/v1/responses/:id", async (request, reply) => {
    const query = parseBody(retrieveQuerySchema, { ...(request.query as object) });
    if (query.include !== undefined) throw ApiError.invalid("include is decided when a response is created (POST /v1/responses); GET returns what was stored", "include");
    const owner = ownerOf(request);
    const id = request.params.id;
    const live = findRunning(id, owner);
    const stored = live ? undefined : storeOf(state).get(id, owner);
    if (!live && !stored) throw notFound(id);
    if (query.stream !== "true") {
      if (query.starting_after !== undefined) throw ApiError.invalid("starting_after needs stream=true", "starting_after");
      return snapshot(live ? live.response : stored!.response);
    }
    if (live) {
      streamEvents(reply, live.events, query.starting_after ?? -1);
    } else {
      const sse = new SseWriter(reply);
      sse.open();
      for (const e of stored!.events as StreamEvent[]) if (e.sequence_number > (query.starting_after ?? -1)) sse.event(e.type, e);
      sse.end();
    }
    return reply;
  });

  app.delete<{ Params: { id: string } }>("/v1/responses/:id", async (request) => {
    const owner = ownerOf(request);
    const id = request.params.id;
    if (findRunning(id, owner)) throw ApiError.invalid(`Response '${id}' is still being generated: cancel it first (POST /v1/responses/${id}/cancel).`, null, "response_in_progress");
    if (!storeOf(state).delete(id, owner)) throw notFound(id);
    return { id, object: "response", deleted: true };
  });

  app.post<{ Params: { id: string } }>("/v1/responses/:id/cancel", async (request) => {
    const owner = ownerOf(request);
    const id = request.params.id;
    const live = findRunning(id, owner);
    if (live) {
      live.cancel.abort();
      await live.done;
      return snapshot(live.response);
    }
    const stored = state.responses?.get(id, owner);
    if (!stored) throw notFound(id);
    throw ApiError.invalid(`Response '${id}' is ${stored.response.status}: only a response still being generated can be cancelled.`, null, "response_not_cancellable");
  });

  app.get<{ Params: { id: string } }>("/v1/responses/:id/input_items", async (request) => {
    const query = parseBody(inputItemsQuerySchema, { ...(request.query as object) });
    if (query.include !== undefined) throw ApiError.invalid("include is not supported on input_items by this server", "include");
    if (query.before !== undefined) throw ApiError.invalid("before is not supported by this server: page with after", "before");
    const owner = ownerOf(request);
    const stored = storeOf(state).get(request.params.id, owner);
    if (!stored) throw notFound(request.params.id);
    const ordered = query.order === "asc" ? stored.inputItems : [...stored.inputItems].reverse();
    let start = 0;
    if (query.after !== undefined) {
      const at = ordered.findIndex((i) => i.id === query.after);
      if (at < 0) throw ApiError.invalid(`No input item '${query.after}' in this response`, "after");
      start = at + 1;
    }
    const limit = query.limit ?? 20;
    const data = ordered.slice(start, start + limit);
    return { object: "list", data, first_id: data[0]?.id ?? null, last_id: data[data.length - 1]?.id ?? null, has_more: start + limit < ordered.length };
  });
}

/** Sends a response's events as SSE (`event:` line and `type` field both), from after `startingAfter`, until its last one. */
function streamEvents(reply: FastifyReply, events: ResponseEvents, startingAfter: number): void {
  const sse = new SseWriter(reply);
  sse.open();
  const unsubscribe = events.subscribe(startingAfter, (e) => sse.event(e.type, e), () => sse.end());
  reply.raw.once("close", unsubscribe);
}

function newResponse(body: ResponseCreateRequest, model: string, store: boolean): ResponseObject {
  return {
    id: itemId("resp"),
    object: "response",
    created_at: Math.floor(Date.now() / 1000),
    completed_at: null,
    status: "in_progress",
    background: false,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    metadata: body.metadata ?? {},
    model,
    output: [],
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    store,
    temperature: body.temperature ?? 1,
    top_p: body.top_p ?? 1,
    top_logprobs: body.top_logprobs ?? null,
    text: { format: body.text?.format ?? { type: "text" } },
    tool_choice: body.tool_choice ?? "auto",
    tools: body.tools ?? [],
    truncation: "disabled",
    user: body.user ?? null,
    usage: null,
  };
}
