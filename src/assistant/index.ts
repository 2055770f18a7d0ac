/**
 * The setup assistant (`nimble assistant`): picks what drives it — a remote OpenAI-compatible model,
 * the model Nimble serves if it is capable, or else the guided wizard — and runs it against a Nimble
 * server's APIs with an admin key. Also `undo` of the last session's actions.
 */
import { runAgent, type ChatModel } from "./agent.js";
import { NimbleClient } from "./client.js";
import { undoLastSession, type Io, type Session } from "./execute.js";
import { ActionLog } from "./log.js";
import { runWizard } from "./wizard.js";

export { CATALOG, recommend, type CatalogModel } from "./catalog.js";
export { TOOLS, toolSpecs, type Tool } from "./tools.js";
export { ActionLog } from "./log.js";
export { WebConversation, WebConversations, type Turn } from "./web.js";
export { policyToGuardrails } from "./tools-guardrails.js";
export type { Io } from "./execute.js";

export interface AssistantOptions {
  /** The Nimble server to set up, and an admin key for it. */
  serverUrl: string;
  adminKey?: string;
  /** NIMBLE_HOME: where the action log lives. */
  home: string;
  io: Io;
  /** Confirm every change without asking. */
  yes?: boolean;
  /** A remote OpenAI-compatible model to drive the assistant (otherwise the server's own, if capable). */
  assistantUrl?: string;
  assistantModel?: string;
  assistantApiKey?: string;
  /** Skip the language model and run the guided wizard. */
  wizard?: boolean;
  /** The first request (otherwise asked for). */
  goal?: string;
}

/** Smallest model trusted to plan and call tools. */
const MIN_PARAMETERS = 500_000_000;

/** The model to drive the assistant, or why there is none (then the wizard runs). */
export async function pickModel(options: AssistantOptions, client: NimbleClient): Promise<ChatModel | { reason: string }> {
  if (options.assistantUrl) {
    if (!options.assistantModel) return { reason: "--assistant-url needs --assistant-model" };
    return { url: options.assistantUrl, model: options.assistantModel, ...(options.assistantApiKey ? { apiKey: options.assistantApiKey } : {}) };
  }
  const models = (await client.get("/v1/models")).data as { id: string; nimble?: { kind?: string; state?: string; demo?: boolean; parameters?: number } }[];
  const chat = models.find((m) => m.nimble?.kind !== "embedding" && m.nimble?.kind !== "rerank" && m.nimble?.state === "loaded");
  if (!chat) return { reason: "the server has no loaded chat model" };
  if (chat.nimble?.demo) return { reason: `${chat.id} is the random-weight demo model` };
  if ((chat.nimble?.parameters ?? 0) < MIN_PARAMETERS) return { reason: `${chat.id} is too small (${chat.nimble?.parameters ?? 0} parameters) to plan and call tools reliably` };
  return { url: options.serverUrl, model: chat.id, constrained: true, ...(options.adminKey ? { apiKey: options.adminKey } : {}) };
}

function session(options: AssistantOptions): Session {
  const io = options.io;
  return { client: new NimbleClient(options.serverUrl, options.adminKey), say: (l) => io.say(l), io, log: new ActionLog(options.home), yes: options.yes ?? false };
}

/** Runs the assistant: the agent when a capable model drives it, the wizard otherwise. */
export async function runAssistant(options: AssistantOptions): Promise<{ mode: "agent" | "wizard" }> {
  const s = session(options);
  // Fails early, in one line, on an unreachable server or a key without the admin scope.
  await s.client.get("/v1/admin/models");
  const model = options.wizard ? { reason: "wizard" } : await pickModel(options, s.client);
  if ("reason" in model) {
    if (!options.wizard) options.io.say(`No capable assistant model: ${model.reason}. Point it at one with --assistant-url and --assistant-model; meanwhile, the guided wizard.`);
    await runWizard(s);
    return { mode: "wizard" };
  }
  options.io.say(`Assistant model: ${model.model} at ${model.url}. Every change is shown first and needs your yes.`);
  await runAgent(s, model, options.goal === undefined ? {} : { goal: options.goal });
  return { mode: "agent" };
}

/** Reverses the last session's actions (each confirmed unless `yes`). */
export function undoAssistant(options: Omit<AssistantOptions, "goal" | "wizard" | "assistantUrl" | "assistantModel" | "assistantApiKey">): Promise<number> {
  return undoLastSession(session(options as AssistantOptions));
}
