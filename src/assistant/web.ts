/**
 * The assistant behind an HTTP API (the playground's Assistant tab): a conversation runs the same
 * agent loop as `nimble assistant`, with an Io that pauses it whenever it needs the user — their
 * next message, or a yes or no on a plan — until the next HTTP call brings the answer. Nothing
 * changes before a plan is confirmed. No HTTP here: src/api/admin/assistant.ts serves it.
 */
import { randomUUID } from "node:crypto";
import { runAgent, type ChatModel } from "./agent.js";
import type { NimbleClient } from "./client.js";
import type { Io, Session } from "./execute.js";
import { ActionLog } from "./log.js";

export interface WebEvent {
  type: "say";
  text: string;
}

/** What the conversation waits for. */
export type Pending = { type: "message" } | { type: "confirm"; plan_id: string; plan: string } | null;

export interface Turn {
  id: string;
  /** Lines said since the previous turn. */
  events: WebEvent[];
  pending: Pending;
  /** The conversation ended (the model stopped, the step limit, or an error: then `error`). */
  done: boolean;
  error?: string;
}

export class ConversationError extends Error {
  constructor(readonly code: "busy" | "not_waiting" | "unknown_plan" | "done", message: string) {
    super(message);
  }
}

export class WebConversation {
  readonly id = randomUUID();
  lastUsed = Date.now();
  private events: WebEvent[] = [];
  private pending: Pending = null;
  private done = false;
  private error: string | undefined;
  private answer: ((value: string | boolean | undefined) => void) | undefined;
  private abort: ((err: Error) => void) | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly client: NimbleClient, private readonly model: ChatModel, private readonly home: string) {}

  private io(): Io {
    const wait = <T>(pending: NonNullable<Pending>) =>
      new Promise<T>((resolve, reject) => {
        this.pending = pending;
        this.answer = resolve as (value: string | boolean | undefined) => void;
        this.abort = reject;
        this.wake?.();
      });
    return {
      say: (text) => this.events.push({ type: "say", text }),
      // Once closed: no more input (the agent stops), and no plan can be decided (it stops too).
      ask: () => (this.done ? Promise.resolve(undefined) : wait<string | undefined>({ type: "message" })),
      confirm: (plan) => (this.done ? Promise.reject(new Error("the conversation was closed")) : wait<boolean>({ type: "confirm", plan_id: randomUUID(), plan })),
    };
  }

  /** Starts the conversation with the user's first message; resolves at the first pause. */
  start(message: string): Promise<Turn> {
    const io = this.io();
    const session: Session = { client: this.client, say: (l) => io.say(l), io, log: new ActionLog(this.home), yes: false };
    void runAgent(session, this.model, { goal: message }).then(
      () => this.finish(),
      (err: Error) => this.finish(err.message.split("\n")[0]),
    );
    return this.nextTurn();
  }

  private finish(error?: string): void {
    this.done = true;
    this.pending = null;
    if (error !== undefined) this.error = error;
    this.wake?.();
  }

  /** The user's next message. */
  send(message: string): Promise<Turn> {
    this.expect("message");
    return this.resume(message);
  }

  /** A yes or no on the plan waiting. */
  decide(planId: string, confirmed: boolean): Promise<Turn> {
    const pending = this.expect("confirm");
    if (pending.type !== "confirm" || pending.plan_id !== planId) throw new ConversationError("unknown_plan", `No plan ${planId} is waiting for a decision${pending.type === "confirm" ? ` (the waiting plan is ${pending.plan_id})` : ""}.`);
    this.events.push({ type: "say", text: `${confirmed ? "Confirmed" : "Declined"}: ${pending.plan}` });
    return this.resume(confirmed);
  }

  /** Ends the conversation (an end of input for the agent). */
  close(): void {
    if (this.done) return;
    const { answer, abort } = this;
    const planWaiting = this.pending?.type === "confirm";
    this.answer = undefined;
    this.abort = undefined;
    this.pending = null;
    this.done = true;
    // An end of input: a waiting question gets no answer, a waiting plan is not done and the agent stops.
    if (planWaiting) abort?.(new Error("the conversation was closed"));
    else answer?.(undefined);
  }

  private expect(type: "message" | "confirm"): NonNullable<Pending> {
    if (this.done) throw new ConversationError("done", "This conversation has ended: start a new one.");
    if (!this.pending) throw new ConversationError("busy", "The assistant is still working on the previous step.");
    if (!this.pending || this.pending.type !== type) throw new ConversationError("not_waiting", `The assistant is waiting for ${this.pending?.type === "confirm" ? "a decision on a plan (confirm or decline)" : "a message"}, not ${type === "confirm" ? "a decision" : "a message"}.`);
    return this.pending;
  }

  private resume(value: string | boolean): Promise<Turn> {
    const answer = this.answer!;
    this.answer = undefined;
    this.abort = undefined;
    this.pending = null;
    const turn = this.nextTurn();
    answer(value);
    return turn;
  }

  /** Waits until the agent pauses or ends, then reports what was said meanwhile. */
  private async nextTurn(): Promise<Turn> {
    this.lastUsed = Date.now();
    while (!this.pending && !this.done) await new Promise<void>((resolve) => (this.wake = resolve));
    this.wake = undefined;
    this.lastUsed = Date.now();
    const events = this.events.splice(0);
    return { id: this.id, events, pending: this.pending, done: this.done, ...(this.error !== undefined ? { error: this.error } : {}) };
  }
}

/** The conversations of one server: a few at a time, idle ones forgotten after `idleMs`. */
export class WebConversations {
  private readonly all = new Map<string, WebConversation>();
  constructor(private readonly max = 16, private readonly idleMs = 30 * 60_000) {}

  add(c: WebConversation): void {
    const now = Date.now();
    for (const [id, other] of this.all) if (now - other.lastUsed > this.idleMs) this.remove(id);
    if (this.all.size >= this.max) {
      const oldest = [...this.all.values()].sort((a, b) => a.lastUsed - b.lastUsed)[0]!;
      this.remove(oldest.id);
    }
    this.all.set(c.id, c);
  }

  get(id: string): WebConversation | undefined {
    return this.all.get(id);
  }

  remove(id: string): boolean {
    const c = this.all.get(id);
    c?.close();
    return this.all.delete(id);
  }

  closeAll(): void {
    for (const id of [...this.all.keys()]) this.remove(id);
  }
}
