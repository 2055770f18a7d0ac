/**
 * The agent loop: an OpenAI-compatible chat model with tool calling plans the setup; each tool call
 * is validated (zod) and, when it changes something, confirmed by the user before it runs. A
 * refused or invalid call goes back to the model as the tool's result, never acted on.
 *
 * When the model is the one Nimble serves (`constrained`), every answer is grammar-constrained to
 * the tools' schemas: the request forces a tool call (`tool_choice: "required"`, which Nimble
 * enforces with a grammar built from the tools' JSON schemas, src/api/openai/tool-calls.ts) and offers a
 * `respond` tool for plain answers to the user, so even a small model cannot produce a malformed call.
 */
import { z } from "zod";
import { executeTool, type Session } from "./execute.js";
import { toolSpecs } from "./tools.js";

export interface ChatModel {
  /** Base URL of an OpenAI-compatible API (…/v1 is appended to it). */
  url: string;
  model: string;
  apiKey?: string;
  /** Force grammar-constrained tool calls (Nimble's own model; needs `tool_choice: "required"` support). */
  constrained?: boolean;
}

export const SYSTEM_PROMPT = [
  "You are Nimble's setup assistant. You help a user deploy a self-hosted model service on this machine.",
  "Work in small steps: inspect the machine, recommend a model that fits (be honest about licence and trade-offs), pull and load it,",
  "create a document store when they have documents, write guardrails from their policy (personal data, injections, topics) and report the test,",
  "create API keys for their applications, benchmark at the number of users they expect, write nimble.yaml so the setup is reproducible,",
  "and, when they ask for it, the Kubernetes configuration.",
  "Act only through the tools. Every change is shown to the user and needs their confirmation; if they decline, ask what they want instead.",
  "When the setup is done, summarise what was done and how to use it.",
].join(" ");

/** The pseudo-tool a constrained model answers the user with. */
export const RESPOND_TOOL = {
  type: "function" as const,
  function: {
    name: "respond",
    description: "Say something to the user (a question, an explanation, the summary) and wait for their answer.",
    parameters: { type: "object", properties: { message: { type: "string", minLength: 1, maxLength: 1000 } }, required: ["message"], additionalProperties: false },
  },
};

const toolCallSchema = z.object({ id: z.string(), type: z.literal("function").optional(), function: z.object({ name: z.string(), arguments: z.string().optional() }) });
const responseSchema = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string().nullable().optional(), tool_calls: z.array(toolCallSchema).optional() }) })).min(1),
});

export type Message = { role: "system" | "user" | "assistant" | "tool"; content: string | null; tool_calls?: unknown[]; tool_call_id?: string };
type Reply = z.infer<typeof responseSchema>["choices"][0]["message"];

/** The chat request the assistant sends. */
export function chatRequest(model: ChatModel, messages: Message[]): Record<string, unknown> {
  const common = { model: model.model, messages, temperature: 0 };
  if (!model.constrained) return { ...common, tools: toolSpecs(), tool_choice: "auto" };
  return { ...common, tools: [...toolSpecs({ strict: true }), RESPOND_TOOL], tool_choice: "required", parallel_tool_calls: false };
}

async function complete(model: ChatModel, messages: Message[]): Promise<Reply> {
  const res = await fetch(`${model.url.replace(/\/+$/, "")}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(model.apiKey ? { authorization: `Bearer ${model.apiKey}` } : {}) },
    body: JSON.stringify(chatRequest(model, messages)),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`the assistant model answered HTTP ${res.status}: ${text.slice(0, 200)}`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error("the assistant model's answer is not JSON");
  }
  const parsed = responseSchema.safeParse(json);
  if (!parsed.success) throw new Error("the assistant model's answer is not an OpenAI chat completion");
  return parsed.data.choices[0]!.message;
}

/** A `respond` call's message (constrained mode), or undefined when it is another tool. */
function responded(call: z.infer<typeof toolCallSchema>): string | undefined {
  if (call.function.name !== "respond") return undefined;
  try {
    const m = (JSON.parse(call.function.arguments ?? "{}") as { message?: unknown }).message;
    return typeof m === "string" ? m : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Talks until the user has nothing more to say (empty line or end of input) or `maxSteps` model
 * calls. `goal` is the first user message (asked for when absent).
 */
export async function runAgent(session: Session, model: ChatModel, options: { goal?: string; maxSteps?: number } = {}): Promise<{ steps: number; messages: Message[] }> {
  const { io } = session;
  const first = options.goal ?? (await io.ask("What do you want to set up? "));
  const messages: Message[] = [{ role: "system", content: SYSTEM_PROMPT }];
  if (!first?.trim()) return { steps: 0, messages };
  if (options.goal !== undefined) io.say(`You: ${first}`);
  messages.push({ role: "user", content: first });
  let steps = 0;
  while (steps < (options.maxSteps ?? 30)) {
    steps++;
    const reply = await complete(model, messages);
    const calls = reply.tool_calls ?? [];
    messages.push({ role: "assistant", content: reply.content ?? null, ...(calls.length ? { tool_calls: calls } : {}) });
    if (reply.content) io.say(`Assistant: ${reply.content}`);
    const said = model.constrained ? calls.map(responded) : [];
    for (const text of said) if (text !== undefined) io.say(`Assistant: ${text}`);
    const actions = calls.filter((_, i) => said[i] === undefined);
    for (const [i, call] of calls.entries()) {
      if (said[i] !== undefined) messages.push({ role: "tool", tool_call_id: call.id, content: JSON.stringify({ status: "done", result: "said to the user" }) });
    }
    if (actions.length === 0) {
      const next = await io.ask("> ");
      if (!next?.trim()) break;
      messages.push({ role: "user", content: next });
      continue;
    }
    for (const call of actions) {
      io.say(`[tool call] ${call.function.name} ${call.function.arguments ?? "{}"}`);
      const outcome = await executeTool(session, call.function.name, call.function.arguments ?? "{}");
      messages.push({ role: "tool", tool_call_id: call.id, content: JSON.stringify(outcome) });
    }
  }
  return { steps, messages };
}
