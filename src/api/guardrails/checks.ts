/**
 * NeMo's check-only endpoints: POST /v1/guardrail/checks runs a configuration's rails on messages
 * without generating (input rails on the conversation; output rails too when the last message is
 * the assistant's), GET /v1/guardrail/configs lists the configurations.
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { RailReport } from "../../guardrails/types.js";
import { ApiError } from "../errors.js";
import { parseBody, requireServing, type ServerState } from "../state.js";
import { openSession } from "./hooks.js";

const textPart = z.object({ type: z.literal("text"), text: z.string() }).passthrough();
const checkRequestSchema = z
  .object({
    messages: z.array(z.object({ role: z.enum(["system", "developer", "user", "assistant", "tool"]), content: z.union([z.string(), z.array(textPart)]).nullable() }).passthrough()).min(1),
    guardrails: z.object({ config_id: z.string().min(1).optional() }).passthrough().optional(),
    model: z.string().optional(),
  })
  .passthrough();

const textOf = (content: string | { text: string }[] | null): string => (content === null ? "" : typeof content === "string" ? content : content.map((p) => p.text).join("\n"));

export function registerGuardrailCheckRoutes(app: FastifyInstance, state: ServerState): void {
  app.post("/v1/guardrail/checks", async (request, reply) => {
    const body = parseBody(checkRequestSchema, request.body);
    requireServing(state);
    const configId = body.guardrails?.config_id;
    const session = openSession(state, request, reply, body, configId);
    if (!session) throw ApiError.invalid("No guardrails configuration applies: name one in guardrails.config_id, or set a default in the guardrails file.", "guardrails.config_id", "no_guardrails_config");
    const messages = body.messages.map((m) => ({ role: m.role === "developer" ? "system" : m.role, text: textOf(m.content) }));
    const last = messages[messages.length - 1]!;
    const answer = last.role === "assistant" && messages.length > 1 ? last : undefined;
    const conversation = answer ? messages.slice(0, -1) : messages;
    const rails: Record<string, RailReport> = {};
    let blocked = false;
    const input = await session.checkInput(conversation);
    Object.assign(rails, input.rails);
    blocked ||= input.blocked;
    const out = input.texts.map((t) => ({ role: t.role, content: t.text }));
    if (answer) {
      const output = await session.checkOutput(answer.text, true);
      Object.assign(rails, output.rails);
      blocked ||= output.blocked;
      out.push({ role: "assistant", content: output.texts[0]!.text });
    }
    return { status: blocked ? "blocked" : "success", rails_status: rails, messages: out, guardrails_data: session.data() };
  });

  app.get("/v1/guardrail/configs", async () => ({ object: "list", data: state.guardrails?.list() ?? [] }));
}
