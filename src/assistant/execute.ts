/**
 * Runs one tool call, from the model or the wizard: refuses unknown tools and invalid arguments
 * (a message for the model, no action), shows a changing action as a plan and asks for
 * confirmation, logs what was done with how to undo it.
 */
import type { ActionLog } from "./log.js";
import { findTool, TOOLS, undoAction, type ToolContext } from "./tools.js";

export interface Io {
  say(text: string): void;
  /** The user's answer, or undefined when input has ended. */
  ask(question: string): Promise<string | undefined>;
  /** Asks for a yes or no on a plan (a web page's Confirm / Decline); without it, `ask` gets "Proceed? [y/N]". */
  confirm?(plan: string): Promise<boolean>;
}

export interface Session extends ToolContext {
  io: Io;
  log: ActionLog;
  /** Confirm every change without asking (--yes). */
  yes: boolean;
}

export type ToolResult = { status: "done"; result: unknown; summary: string } | { status: "refused" | "invalid" | "failed"; message: string };

export async function confirm(session: Session, plan: string): Promise<boolean> {
  if (session.yes) {
    session.io.say(`Plan: ${plan}`);
    return true;
  }
  if (session.io.confirm) return session.io.confirm(plan);
  session.io.say(`Plan: ${plan}`);
  const answer = await session.io.ask("Proceed? [y/N] ");
  return /^\s*y(es)?\s*$/i.test(answer ?? "");
}

export async function executeTool(session: Session, name: string, rawArgs: unknown): Promise<ToolResult> {
  const tool = findTool(name);
  if (!tool) return { status: "invalid", message: `Unknown tool "${name}". The tools are: ${TOOLS.map((t) => t.name).join(", ")}. Nothing was done.` };
  let args: unknown = rawArgs;
  if (typeof rawArgs === "string") {
    try {
      args = rawArgs.trim() === "" ? {} : JSON.parse(rawArgs);
    } catch {
      return { status: "invalid", message: `The arguments of ${name} are not valid JSON. Nothing was done; call it again with a JSON object matching its schema.` };
    }
  }
  // null is "not given" (OpenAI's strict form makes optional arguments nullable).
  if (args && typeof args === "object" && !Array.isArray(args)) args = Object.fromEntries(Object.entries(args).filter(([, v]) => v !== null));
  const parsed = tool.schema.safeParse(args);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(arguments)"}: ${i.message}`).join("; ");
    return { status: "invalid", message: `Invalid arguments for ${name}: ${issues}. Nothing was done; call it again with arguments matching its schema.` };
  }
  if (tool.changes && !(await confirm(session, tool.plan(parsed.data)))) {
    session.io.say("Not done.");
    return { status: "refused", message: `The user declined: ${tool.plan(parsed.data)}. Nothing was done. Ask what they want instead.` };
  }
  try {
    const outcome = await tool.run(parsed.data, session);
    session.io.say(outcome.summary);
    if (tool.changes) session.log.record({ tool: name, args: parsed.data as Record<string, unknown>, summary: outcome.summary, ...(outcome.undo ? { undo: outcome.undo } : {}) });
    return { status: "done", result: outcome.result, summary: outcome.summary };
  } catch (err) {
    const message = (err as Error).message.split("\n")[0]!;
    session.io.say(`Failed: ${message}`);
    return { status: "failed", message };
  }
}

/** `nimble assistant --undo`: reverses the last session's actions, newest first, each confirmed. */
export async function undoLastSession(session: Session): Promise<number> {
  const actions = session.log.undoable();
  if (actions.length === 0) {
    session.io.say("Nothing to undo.");
    return 0;
  }
  let undone = 0;
  for (const action of actions) {
    if (!(await confirm(session, `undo "${action.summary}"`))) continue;
    session.io.say(await undoAction(session.client, action.undo!));
    session.log.markUndone(action.id);
    undone++;
  }
  return undone;
}
