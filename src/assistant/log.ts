/**
 * The assistant's action log: one JSON line per action in <home>/assistant/actions.jsonl, with
 * what undoes it; undoing appends an "undone" line, so the file is an append-only history.
 */
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";

/** How to reverse an action through Nimble's APIs (or the file it wrote). */
export type UndoRecord =
  | { type: "unload_model"; model: string }
  | { type: "delete_store"; store_id: string; file_ids: string[] }
  | { type: "revoke_key"; name: string }
  | { type: "restore_file"; path: string; previous: string | null }
  /** The server's guardrails YAML before (null: none) and the file written (its previous text, null: none). */
  | { type: "restore_guardrails"; previous: string | null; path: string; previous_file: string | null }
  | { type: "remove_dir"; path: string };

export interface ActionEntry {
  id: string;
  session: string;
  time: string;
  tool: string;
  args: Record<string, unknown>;
  summary: string;
  undo?: UndoRecord;
}

type Line = ({ kind: "action" } & ActionEntry) | { kind: "undone"; id: string; time: string };

export class ActionLog {
  readonly path: string;
  readonly session = randomUUID();

  constructor(home: string) {
    this.path = join(home, "assistant", "actions.jsonl");
  }

  private lines(): Line[] {
    let text = "";
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    const out: Line[] = [];
    for (const l of text.split("\n")) {
      if (!l.trim()) continue;
      try {
        out.push(JSON.parse(l) as Line);
      } catch {
        // A torn last line (a crash mid-write) is skipped, not fatal.
      }
    }
    return out;
  }

  private append(line: Line): void {
    mkdirSync(join(this.path, ".."), { recursive: true, mode: 0o700 });
    appendFileSync(this.path, `${JSON.stringify(line)}\n`, { mode: 0o600 });
  }

  record(entry: Omit<ActionEntry, "id" | "session" | "time">): ActionEntry {
    const full: ActionEntry = { id: randomUUID(), session: this.session, time: new Date().toISOString(), ...entry };
    this.append({ kind: "action", ...full });
    return full;
  }

  markUndone(id: string): void {
    this.append({ kind: "undone", id, time: new Date().toISOString() });
  }

  actions(): ActionEntry[] {
    return this.lines().filter((l): l is { kind: "action" } & ActionEntry => l.kind === "action");
  }

  /** The undoable actions of the most recent session that did any, not undone yet, newest first. */
  undoable(): ActionEntry[] {
    const lines = this.lines();
    const undone = new Set(lines.filter((l) => l.kind === "undone").map((l) => l.id));
    const open = lines.filter((l): l is { kind: "action" } & ActionEntry => l.kind === "action" && l.undo !== undefined && !undone.has(l.id));
    const last = open.at(-1)?.session;
    return open.filter((a) => a.session === last).reverse();
  }
}
