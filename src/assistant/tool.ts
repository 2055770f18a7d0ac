/** What an assistant tool is: the shape every tool module (tools*.ts) builds. */
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { z } from "zod";
import type { NimbleClient } from "./client.js";
import type { UndoRecord } from "./log.js";

export interface ToolContext {
  client: NimbleClient;
  /** Progress lines for the user. */
  say(line: string): void;
}

export interface ToolOutcome {
  /** What goes back to the model (JSON-serialisable). */
  result: unknown;
  /** One line for the user and the action log (never a secret). */
  summary: string;
  undo?: UndoRecord;
}

export interface Tool<S extends z.ZodTypeAny = z.ZodTypeAny> {
  name: string;
  description: string;
  schema: S;
  /**
   * The JSON schema the model sees: no looser than `schema`, and every string and array bounded,
   * so that a grammar built from it (when Nimble's own model drives the assistant) always ends.
   */
  parameters: Record<string, unknown>;
  /** Changes something: shown as a plan and confirmed first, logged, undoable where sensible. */
  changes: boolean;
  plan(args: z.infer<S>): string;
  run(args: z.infer<S>, ctx: ToolContext): Promise<ToolOutcome>;
}

export const tool = <S extends z.ZodTypeAny>(t: Tool<S>): Tool<S> => t;

/** A bounded string for `parameters`. */
export const str = (maxLength: number, extra: Record<string, unknown> = {}) => ({ type: "string", minLength: 1, maxLength, ...extra });

/** The serving settings that nimble.yaml and the Kubernetes overlay both carry, as tool parameters. */
export const servingProperties = () => ({
  model: str(512),
  served_model_name: str(128),
  embedding_model: str(512),
  parallel: { type: "integer", minimum: 1, maximum: 256 },
  ctx_size: { type: "integer", minimum: 1, maximum: 1048576 },
});

/** The file's text, or null when there is none. */
export function readIfExists(path: string): string | null {
  return existsSync(path) ? readFileSync(path, "utf8") : null;
}

/**
 * Writes `text` next to `path`, runs `check` on the temporary file (it throws on a bad one, which
 * is then removed), then renames it into place: never a partial or unchecked file.
 */
export function writeChecked(path: string, text: string, check: (tmp: string) => void = () => {}): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp${path.endsWith(".yaml") || path.endsWith(".yml") ? ".yaml" : ""}`);
  writeFileSync(tmp, text);
  try {
    check(tmp);
  } catch (err) {
    unlinkSync(tmp);
    throw err;
  }
  renameSync(tmp, path);
}

/** Puts a file's previous text back, or removes it when there was none. */
export function restoreFile(path: string, previous: string | null): void {
  if (previous === null) {
    if (existsSync(path)) unlinkSync(path);
  } else writeFileSync(path, previous);
}
