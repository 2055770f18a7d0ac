/**
 * The setup assistant over HTTP, for the playground's Assistant tab (admin scope, as all of
 * /v1/admin/*). A conversation runs the agent loop of `nimble assistant` on the server, acting
 * through this server's own API with the caller's admin key; each call returns when the assistant
 * needs the user again — their next message, or a decision on a plan — and nothing changes until
 * a plan is confirmed:
 *   GET    /v1/admin/assistant                                → which model drives it (or why none)
 *   POST   /v1/admin/assistant/conversations {message}        → a turn: {id, events, pending, done}
 *   POST   …/conversations/{id}/messages {message}            → the next turn
 *   POST   …/conversations/{id}/plans/{plan_id}/confirm|decline → the next turn
 *   DELETE …/conversations/{id}
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { ChatModel } from "../../assistant/agent.js";
import { NimbleClient } from "../../assistant/client.js";
import { pickModel } from "../../assistant/index.js";
import { ConversationError, WebConversation, WebConversations, type Turn } from "../../assistant/web.js";
import { ApiError } from "../errors.js";
import { parseBody } from "../state.js";

export interface AssistantModelOptions {
  /** An OpenAI-compatible server whose model drives the assistant (otherwise this server's own, if capable). */
  url?: string;
  model?: string;
  apiKey?: string;
}

const messageSchema = z.object({ message: z.string().trim().min(1).max(20_000) }).strict();
const idParams = z.object({ id: z.string().uuid() });
const planParams = z.object({ id: z.string().uuid(), plan_id: z.string().uuid(), decision: z.enum(["confirm", "decline"]) });

/** The key the caller used: the assistant acts with it (so it can do no more than the caller). */
function callerKey(request: FastifyRequest): string | undefined {
  const auth = request.headers.authorization;
  if (typeof auth === "string" && /^Bearer\s+/i.test(auth)) return auth.replace(/^Bearer\s+/i, "").trim();
  const x = request.headers["x-api-key"];
  return typeof x === "string" ? x : undefined;
}

export function registerAdminAssistantRoutes(app: FastifyInstance, home: string, options: AssistantModelOptions & { tls: boolean }): void {
  const conversations = new WebConversations();
  app.addHook("onClose", async () => conversations.closeAll());

  /** This server as seen from itself (a wildcard listen address is reached on loopback). */
  const selfUrl = (): string => {
    const address = app.server.address();
    if (!address || typeof address !== "object") throw new ApiError(503, "The server is not listening yet.", "service_unavailable", null, "not_ready");
    const host = address.address === "0.0.0.0" ? "127.0.0.1" : address.address === "::" ? "::1" : address.address;
    return `${options.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${address.port}`;
  };

  const driver = async (request: FastifyRequest): Promise<{ client: NimbleClient; model: ChatModel | { reason: string } }> => {
    const key = callerKey(request);
    const url = selfUrl();
    const client = new NimbleClient(url, key);
    const model = await pickModel(
      { serverUrl: url, home, io: { say: () => {}, ask: async () => undefined }, ...(key ? { adminKey: key } : {}), ...(options.url ? { assistantUrl: options.url } : {}), ...(options.model ? { assistantModel: options.model } : {}), ...(options.apiKey ? { assistantApiKey: options.apiKey } : {}) },
      client,
    );
    return { client, model };
  };

  const turn = async (run: () => Promise<Turn>) => {
    try {
      return { object: "assistant.turn", ...(await run()) };
    } catch (err) {
      if (err instanceof ConversationError) throw new ApiError(409, err.message, "invalid_request_error", null, err.code);
      throw err;
    }
  };

  const conversation = (id: string): WebConversation => {
    const c = conversations.get(id);
    if (!c) throw new ApiError(404, `No assistant conversation ${id} (it ended, or was forgotten after 30 idle minutes).`, "invalid_request_error", "id", "not_found");
    return c;
  };

  app.get("/v1/admin/assistant", async (request) => {
    const { model } = await driver(request);
    return "reason" in model
      ? { object: "assistant", available: false, reason: model.reason }
      : { object: "assistant", available: true, model: model.model, url: model.url, constrained: model.constrained ?? false };
  });

  app.post("/v1/admin/assistant/conversations", async (request) => {
    const { message } = parseBody(messageSchema, request.body);
    const { client, model } = await driver(request);
    if ("reason" in model) {
      throw new ApiError(409, `No capable assistant model: ${model.reason}. Start the server with --assistant-url and --assistant-model, or run \`nimble assistant --wizard\`.`, "invalid_request_error", null, "no_assistant_model");
    }
    const c = new WebConversation(client, model, home);
    conversations.add(c);
    return turn(() => c.start(message));
  });

  app.post("/v1/admin/assistant/conversations/:id/messages", async (request) => {
    const { id } = parseBody(idParams, request.params);
    const { message } = parseBody(messageSchema, request.body);
    return turn(() => conversation(id).send(message));
  });

  app.post("/v1/admin/assistant/conversations/:id/plans/:plan_id/:decision", async (request) => {
    const { id, plan_id, decision } = parseBody(planParams, request.params);
    return turn(() => conversation(id).decide(plan_id, decision === "confirm"));
  });

  app.delete("/v1/admin/assistant/conversations/:id", async (request) => {
    const { id } = parseBody(idParams, request.params);
    conversation(id);
    conversations.remove(id);
    return { id, object: "assistant.conversation", deleted: true };
  });
}
