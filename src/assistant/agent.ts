/**
 * The agent loop: an OpenAI-compatible chat model with tool calling plans the setup; each tool call
 * is validated (zod) and, when it changes something, confirmed by the user before it runs. A
 * refused or invalid call goes back to the model as the tool's result, never acted on.
 */
import { z } from "zod";
import { executeTool, type Session } from "./execute.js";
import { toolSpecs } from "./tools.js";

export interface ChatModel {
  /** Base URL of an OpenAI-compatible API (…/v1 is appended to it). */
  url: string;
  model: string;
  apiKey?: string;
}

export const SYSTEM_PROMPT = [
  "You are Nimble's setup assistant. You help a user deploy a self-hosted model service on this machine.",
  "Work in small steps: inspect the machine, recommend a model that fits (be honest about licence and trade-offs), pull and load it,",
  "create a document store when they have documents, create API keys for their applications, and write nimble.yaml so the setup is reproducible.",
  "Act only through the tools. Every change is shown to the user and needs their confirmation; if they decline, ask what they want instead.",
  "When the setup is done, summarise what was done and how to use it.",
].join(" ");

const toolCallSchema = z.object({ id: z.string(), type: z.literal("function").optional(), function: z.object({ name: z.string(), arguments: z.string().optional() }) });
const responseSchema = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string().nullable().optional(), tool_calls: z.array(toolCallSchema).optional() }) })).min(1),
});

type Message = { role: "system" | "user" | "assistant" | "tool"; content: string | null; tool_calls?: unknown[]; tool_call_id?: string };

async function complete(model: ChatModel, messages: Message[]): Promise<z.infer<typeof responseSchema>["choices"][0]["message"]> {
  const res = await fetch(`${model.url.replace(/\/+$/, "")}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(model.apiKey ? { authorization: `Bearer ${model.apiKey}` } : {}) },
    body: JSON.stringify({ model: model.model, messages, tools: toolSpecs(), tool_choice: "auto", temperature: 0 }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`the assistant model answered HTTP ${res.status}: ${text.slice(0, 200)}`);
  const parsed = responseSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error("the assistant model's answer is not an OpenAI chat completion");
  return parsed.data.choices[0]!.message;
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
    if (calls.length === 0) {
      const next = await io.ask("> ");
      if (!next?.trim()) break;
      messages.push({ role: "user", content: next });
      continue;
    }
    for (const call of calls) {
      io.say(`[tool call] ${call.function.name} ${call.function.arguments ?? "{}"}`);
      const outcome = await executeTool(session, call.function.name, call.function.arguments ?? "{}");
      messages.push({ role: "tool", tool_call_id: call.id, content: JSON.stringify(outcome) });
    }
  }
  return { steps, messages };
}
