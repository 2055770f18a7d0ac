/**
 * POST /v1/moderations in OpenAI's shape, backed by the guardrails file's moderation model (a
 * guard model such as Llama Guard, any served chat model) and a lexical heuristic. Categories
 * neither can judge are false with score 0 (see docs/GUARDRAILS.md).
 */
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Engine } from "../../engine/types.js";
import { moderate } from "../../guardrails/moderation.js";
import { ApiError } from "../errors.js";
import { newId } from "../generation.js";
import { parseBody, requireServing, type ServerState } from "../state.js";
import { railModels } from "../guardrails/models.js";

const MAX_INPUTS = 32;
const inputPart = z.union([
  z.object({ type: z.literal("text"), text: z.string() }).passthrough(),
  z.object({ type: z.literal("image_url"), image_url: z.object({ url: z.string() }).passthrough() }).passthrough(),
]);
const moderationRequestSchema = z
  .object({
    input: z.union([z.string(), z.array(z.string()).min(1).max(MAX_INPUTS), z.array(inputPart).min(1).max(MAX_INPUTS)]),
    model: z.string().optional(),
  })
  .passthrough();

export function registerModerationRoutes(app: FastifyInstance, state: ServerState): void {
  app.post("/v1/moderations", async (request, reply) => {
    const body = parseBody(moderationRequestSchema, request.body);
    requireServing(state);
    let texts: string[];
    if (typeof body.input === "string") texts = [body.input];
    else if (body.input.every((i): i is string => typeof i === "string")) texts = body.input as string[];
    else {
      const parts = body.input as z.infer<typeof inputPart>[];
      if (parts.some((p) => p.type === "image_url")) throw ApiError.invalid("Image inputs are not supported by this server's moderation: send text.", "input", "unsupported_input");
      // Several parts are one input (OpenAI's multi-modal form).
      texts = [parts.map((p) => (p as { text: string }).text).join("\n")];
    }
    const settings = state.guardrails?.file.moderation;
    let guard: { engine: Engine; threshold: number } | undefined;
    if (settings?.model) guard = { engine: await railModels(state, reply, undefined).chat(settings.model), threshold: settings.threshold };
    const results = [];
    for (const text of texts) results.push(await moderate(text, guard));
    return { id: newId("modr"), model: body.model ?? (settings?.model ? `nimble-guard:${settings.model}` : "nimble-heuristic-moderation"), results };
  });
}
