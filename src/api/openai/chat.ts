/** POST /v1/chat/completions: messages rendered with the model's chat template, streamed or not, with tool calls. */
import type { FastifyInstance } from "fastify";
import type { Engine, GenerationPiece, GenerationResult, PreparedGrammar, TokenLogprob } from "../../engine/types.js";
import { chatLogprobs } from "./logprobs.js";
import { compileGrammar, requestGrammar } from "./guided.js";
import { awaitStarted, cancellation, finishReason, newId, startAll, SYSTEM_FINGERPRINT, toGenerationRequest, usageOf, type Choice } from "../generation.js";
import { chatCompletionRequestSchema, type ChatCompletionChunk, type ChatCompletionRequest, type ChatCompletionResponse, type FinishReasonOut } from "../protocol.js";
import { untilExpired } from "../security/limits.js";
import { SseWriter } from "../sse.js";
import { parseBody, type ServerState } from "../state.js";
import { useChatModel } from "../targets.js";
import { guardRetrieval, guardTarget } from "../guardrails/hooks.js";
import { groundChat, type Grounding } from "./grounding.js";
import { streamChoices } from "./streaming.js";
import { checkStructuredOutput } from "./structured-check.js";
import { planTools, renderConversation, ToolCallParser, type ToolEvent, type ToolPlan } from "./tool-calls.js";

type Delta = ChatCompletionChunk["choices"][number]["delta"];

/** The grammar the request's output follows: a forced tool call's, or response_format's / guided_*'s. */
async function outputGrammar(engine: Engine, body: ChatCompletionRequest, plan: ToolPlan): Promise<PreparedGrammar | undefined> {
  return plan.grammar ? compileGrammar(engine, plan.grammar, "tools") : requestGrammar(engine, body);
}

function newParser(plan: ToolPlan): ToolCallParser | undefined {
  return plan.mode === "none" ? undefined : new ToolCallParser(new Set(plan.tools.map((t) => t.function.name)), plan.parallel ? Infinity : 1);
}

/** A choice's finish reason: "tool_calls" when it made complete calls. */
function chatFinishReason(result: GenerationResult, parser: ToolCallParser | undefined): FinishReasonOut {
  if (parser && parser.calls.length > 0 && !(parser.truncated && result.finishReason === "length")) return "tool_calls";
  return finishReason(result);
}

/** Parser events as chat deltas. */
function deltas(events: ToolEvent[]): Delta[] {
  return events.map((e) =>
    e.kind === "content"
      ? { content: e.text }
      : e.kind === "call"
        ? { tool_calls: [{ index: e.index, id: e.id, type: "function" as const, function: { name: e.name, arguments: "" } }] }
        : { tool_calls: [{ index: e.index, function: { arguments: e.text } }] },
  );
}

export function registerChatRoutes(app: FastifyInstance, state: ServerState): void {
  app.post("/v1/chat/completions", async (request, reply) => {
    let body = parseBody(chatCompletionRequestSchema, request.body);
    // Grounded chat (`rag` or a `rag:<store>` model): sources go into the prompt, citations into the response.
    const grounding: Grounding | undefined = await groundChat(state, body, guardRetrieval(request));
    if (grounding) body = grounding.body;
    const groundedFields = grounding ? { grounded: grounding.grounded, retrieval: grounding.retrieval } : {};
    const { engine, id: model, adapter } = guardTarget(request, await useChatModel(state, reply, body.model, body.keep_alive));
    const plan = planTools(engine, body);
    const promptTokens = engine.tokenize(renderConversation(engine, body.messages, plan));
    const n = body.n ?? 1;
    const cancel = cancellation(request, reply);
    const logprobs = body.logprobs ? { top: body.top_logprobs ?? 0 } : undefined;
    const grammar = await outputGrammar(engine, body, plan);
    const structured = plan.grammar ? {} : checkStructuredOutput(body);
    const requests = Array.from({ length: n }, (_, choice) => toGenerationRequest(engine, body, promptTokens, { choice, signal: cancel.signal, promptParam: "messages", logprobs, grammar, adapter, limits: state.limits, client: request.apiKey?.name }));
    const choices = startAll(engine, requests, cancel, request.tokenBudget);
    const parsers = choices.map(() => newParser(plan));

    const id = newId("chatcmpl");
    const created = Math.floor(Date.now() / 1000);
    const includeUsage = body.stream_options?.include_usage === true;
    if (body.stream) {
      const base = { id, object: "chat.completion.chunk" as const, created, model, system_fingerprint: SYSTEM_FINGERPRINT, ...(includeUsage ? { usage: null } : {}) };
      const chunk = (index: number, delta: Delta, finish: FinishReasonOut | null, entries?: TokenLogprob[]): ChatCompletionChunk => ({
        ...base,
        choices: [{ index, delta, logprobs: entries ? chatLogprobs(entries) : null, finish_reason: finish }],
      });
      // Logprobs of text the parser holds back go out with the next chunk.
      const heldLogprobs: TokenLogprob[][] = choices.map(() => []);
      const chunks = (c: Choice, events: ToolEvent[], piece?: GenerationPiece): ChatCompletionChunk[] => {
        if (piece?.logprobs) heldLogprobs[c.index]!.push(...piece.logprobs);
        return deltas(events).map((delta) => {
          const entries = heldLogprobs[c.index]!.length > 0 ? heldLogprobs[c.index]!.splice(0) : undefined;
          return chunk(c.index, delta, null, logprobs ? (entries ?? []) : undefined);
        });
      };
      await awaitStarted(request, choices, cancel);
      const sse = new SseWriter(reply);
      sse.open();
      for (const c of choices) {
        const first = chunk(c.index, { role: "assistant", content: "", ...(grounding ? { citations: grounding.citations } : {}) } as Delta, null);
        sse.send(grounding ? { ...first, ...groundedFields } : first);
      }
      await streamChoices(sse, choices, cancel, {
        piece: (c, piece) => {
          const parser = parsers[c.index];
          return parser ? chunks(c, parser.push(piece.text), piece) : [chunk(c.index, { content: piece.text }, null, piece.logprobs)];
        },
        end: (c, r) => {
          const parser = parsers[c.index];
          return [...(parser ? chunks(c, parser.end()) : []), chunk(c.index, {}, chatFinishReason(r, parser))];
        },
        usage: includeUsage ? (results) => ({ ...base, choices: [], usage: usageOf(results, () => 0) }) : undefined,
      });
      return reply;
    }

    const results = await untilExpired(request, Promise.all(choices.map((c) => c.stream.result)));
    const response: ChatCompletionResponse = {
      id,
      object: "chat.completion",
      created,
      model,
      system_fingerprint: SYSTEM_FINGERPRINT,
      choices: results.map((r, index) => {
        const parser = parsers[index];
        let message: ChatCompletionResponse["choices"][number]["message"] = { role: "assistant", content: r.text };
        if (parser) {
          const content = [...parser.push(r.text), ...parser.end()].map((e) => (e.kind === "content" ? e.text : "")).join("");
          message = parser.calls.length > 0 ? { role: "assistant", content: content.length > 0 ? content : null, tool_calls: parser.calls } : { role: "assistant", content };
        }
        if (grounding) message = { ...message, citations: grounding.citations } as typeof message;
        return { index, message, logprobs: r.logprobs ? chatLogprobs(r.logprobs) : null, finish_reason: chatFinishReason(r, parser) };
      }),
      usage: usageOf(results, () => 0),
      // Schema keywords no grammar enforces, checked after generation (first choice).
      ...(structured.check ? { structured_output: structured.check(results[0]!.text) } : {}),
    };
    return grounding ? { ...response, ...groundedFields } : response;
  });
}
