/**
 * Guardrails on the generation endpoints. A preHandler hook picks the request's configuration
 * (`guardrails.config_id` > the API key's default > the server's), runs the input rails over the
 * whole conversation, writes masked text back into the body or answers a block itself. Handlers
 * make one call, guardTarget(), which wraps the engine so that output rails see every generation.
 * guardrails_data goes on the JSON response (preSerialization) or on stream frames (sseFrames).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Engine, GenerationRequest } from "../../engine/types.js";
import { UnknownGuardrailsConfigError, type GuardSession, type Guardrails } from "../../guardrails/guardrails.js";
import { GuardedStream } from "../../guardrails/stream.js";
import { sessionChunkFilter } from "../../guardrails/retrieval.js";
import type { RetrievedChunkFilter } from "../../rag/types.js";
import { ApiError } from "../errors.js";
import type { ServerState } from "../state.js";
import { bodySlots, requestedSchema, type Endpoint } from "./bodies.js";
import { railModels } from "./models.js";
import { sendRefusal } from "./respond.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The request's guardrails session, when a configuration applies to it. */
    guardrails?: GuardSession;
  }
}

const ENDPOINTS: Record<string, Endpoint> = { "/v1/chat/completions": "chat", "/v1/completions": "completions", "/v1/messages": "messages" };

/** The `guardrails` field of a request body: `{config_id}` (NeMo's field). */
export function requestedConfigId(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const g = (body as Record<string, unknown>).guardrails;
  if (g === undefined || g === null) return undefined;
  if (typeof g !== "object" || Array.isArray(g)) throw ApiError.invalid("Invalid value for 'guardrails': expected an object like {\"config_id\": \"...\"}", "guardrails");
  const id = (g as Record<string, unknown>).config_id;
  if (id === undefined || id === null) return undefined;
  if (typeof id !== "string" || id.length === 0) throw ApiError.invalid("Invalid value for 'guardrails.config_id': expected a non-empty string", "guardrails.config_id");
  return id;
}

/** Opens a session for a request: undefined when no configuration applies. An unknown config_id is a 400. */
export function openSession(state: ServerState, request: FastifyRequest, reply: FastifyReply, body: unknown, configId: string | undefined): GuardSession | undefined {
  const guardrails = state.guardrails;
  if (!guardrails) {
    if (configId !== undefined) throw ApiError.invalid(`Unknown guardrails config_id '${configId}': this server has no guardrails file (start it with --guardrails).`, "guardrails.config_id", "unknown_guardrails_config");
    return undefined;
  }
  let compiled;
  try {
    compiled = guardrails.resolve(configId, request.apiKey?.guardrails);
  } catch (err) {
    if (err instanceof UnknownGuardrailsConfigError) throw ApiError.invalid(err.message, "guardrails.config_id", "unknown_guardrails_config");
    throw err;
  }
  if (!compiled) return undefined;
  const model = typeof (body as { model?: unknown })?.model === "string" ? (body as { model: string }).model : undefined;
  const schema = requestedSchema(body);
  const session = guardrails.session(compiled, railModels(state, reply, model), { ...(schema ? { responseSchema: schema } : {}) });
  request.guardrails = session;
  request.logFields = {
    ...request.logFields,
    get guardrails() {
      return session.activated.length > 0 ? { config_id: session.id, fired: session.activated.map((r) => ({ name: r.name, type: r.type, action: r.action })) } : { config_id: session.id };
    },
  };
  return session;
}

/** Adds guardrails_data to stream frames: on the first frame, and on the frame after a rail fires; a stream block also gets an error event. */
function streamAnnotator(session: GuardSession): (data: unknown) => unknown[] {
  let announced = 0;
  return (data) => {
    if (typeof data !== "object" || data === null) return [data];
    let frame = data as Record<string, unknown>;
    if (session.activated.length > announced) {
      announced = session.activated.length;
      frame = { ...frame, guardrails_data: session.data() };
    }
    const choices = frame.choices as { finish_reason?: unknown }[] | undefined;
    if (choices?.some((c) => c.finish_reason === "content_filter")) {
      return [frame, { error: { message: session.config.refusal, type: "content_filter", param: null, code: "content_filter" }, guardrails_data: session.data() }];
    }
    return [frame];
  };
}

/** The engine a handler generates with: output rails wrap every generation when the request's configuration has any. */
export function guardTarget<T extends { engine: Engine }>(request: FastifyRequest, target: T): T {
  const session = request.guardrails;
  if (!session?.hasRails("output")) return target;
  const engine = target.engine;
  const streaming = (request.body as { stream?: unknown } | undefined)?.stream === true;
  const guarded = Object.create(engine) as Engine;
  guarded.generate = (req: GenerationRequest) => {
    const own = new AbortController();
    const signal = req.signal ? AbortSignal.any([req.signal, own.signal]) : own.signal;
    const inner = engine.generate({ ...req, signal });
    return new GuardedStream(inner, session, { streaming, countTokens: (t) => engine.tokenize(t, false).length, abort: () => own.abort() });
  };
  return { ...target, engine: guarded };
}

/** The retrieval rail of the request's configuration, for grounded chat; undefined when it has none. */
export function guardRetrieval(request: FastifyRequest): RetrievedChunkFilter | undefined {
  const session = request.guardrails;
  return session?.hasRails("retrieval") ? sessionChunkFilter(session) : undefined;
}

export function registerGuardrailHooks(app: FastifyInstance, state: ServerState): void {
  app.addHook("preHandler", async (request, reply) => {
    const endpoint = ENDPOINTS[request.routeOptions.url ?? ""];
    if (!endpoint || request.method !== "POST") return;
    const body = request.body;
    const session = openSession(state, request, reply, body, requestedConfigId(body));
    if (!session) return;
    const stream = (body as { stream?: unknown }).stream === true;
    if (session.hasRails("input")) {
      const slots = bodySlots(endpoint, body);
      const result = await session.checkInput(slots.map((s) => ({ role: s.role, text: s.text })));
      if (result.blocked) {
        const model = typeof (body as { model?: unknown }).model === "string" ? (body as { model: string }).model : state.pool.status().find((s) => s.kind === "chat")?.id ?? "unknown";
        return sendRefusal(reply, endpoint, { model, refusal: session.config.refusal, stream, data: session.data() });
      }
      result.texts.forEach((t, i) => { if (t.text !== slots[i]!.text) slots[i]!.set(t.text); });
    }
    if (stream) request.sseFrames = streamAnnotator(session);
  });
  app.addHook("preSerialization", async (request, _reply, payload) => {
    const session = request.guardrails;
    if (!session || !ENDPOINTS[request.routeOptions.url ?? ""] || typeof payload !== "object" || payload === null || "guardrails_data" in payload || "error" in payload) return payload;
    if ((payload as { type?: unknown }).type === "error") return payload;
    if (session.activated.length === 0) return payload;
    return { ...payload, guardrails_data: session.data() };
  });
}

export type { Guardrails };
