/**
 * Workloads: what each request of a level sends. `synthetic` (sized random text), `shared-prefix` (one
 * shared system prompt + a unique question), `multi-turn` (conversations that re-send their growing
 * history with the previous answers) and `dataset` (prompts or message lists from a JSONL file).
 * Texts are seeded by (level, index), so both servers of a `--compare` run get the same ones.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import type { ChatMessage, RequestSpec } from "./client.js";
import { sizedText, type SizedText } from "./text.js";
import type { Sizing } from "./tokenize.js";

/** One user (a conversation, or a single request): `next` gives its next request, given the answer to the previous one. */
export interface Session {
  next(previousAnswer: string | undefined): RequestSpec | undefined;
}

export type WorkloadKind = "synthetic" | "shared-prefix" | "multi-turn" | "dataset";

export interface WorkloadOptions {
  kind: WorkloadKind;
  seed: number;
  inputTokens: number;
  outputTokens: number;
  ignoreEos: boolean;
  prefixTokens: number;
  /** multi-turn: a system prompt of this many tokens shared by every conversation (0: none). */
  systemTokens?: number;
  conversations: number;
  turns: number;
  datasetPath?: string;
}

export interface Workload {
  kind: WorkloadKind;
  /** The settings, for results.json. */
  settings: Record<string, unknown>;
  /** How many requests each session makes (multi-turn: turns; others: 1). */
  turnsPerSession: number;
  /** Sessions per level when it is fixed by the workload (multi-turn: conversations), else undefined. */
  sessionsPerLevel?: number;
  /** Session `index` of level `level`; warm-up sessions are distinct from measured ones and make one request. */
  session(level: number, index: number, warmup: boolean): Promise<Session>;
}

const dataLineSchema = z.union([
  z.object({ prompt: z.string().min(1), max_tokens: z.number().int().positive().optional() }).strict(),
  z.object({
    messages: z.array(z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string() }).strict()).min(1),
    max_tokens: z.number().int().positive().optional(),
  }).strict(),
]);

export interface DatasetEntry {
  messages: ChatMessage[];
  maxTokens?: number;
}

/** Reads a JSONL dataset: one `{"prompt": "..."}` or `{"messages": [...]}` per line (optional `max_tokens`); blank lines skipped. */
export function readDataset(path: string): DatasetEntry[] {
  let raw: string;
  try { raw = readFileSync(path, "utf8"); } catch (err) {
    throw new Error(`cannot read dataset ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const entries: DatasetEntry[] = [];
  raw.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    let json: unknown;
    try { json = JSON.parse(line); } catch { throw new Error(`dataset ${path} line ${i + 1}: not valid JSON`); }
    const parsed = dataLineSchema.safeParse(json);
    if (!parsed.success) throw new Error(`dataset ${path} line ${i + 1}: expected {"prompt": "..."} or {"messages": [{"role": "user", "content": "..."}]} (optional "max_tokens"), got ${line.trim().slice(0, 80)}`);
    const d = parsed.data;
    entries.push({ messages: "prompt" in d ? [{ role: "user", content: d.prompt }] : d.messages, maxTokens: d.max_tokens });
  });
  if (entries.length === 0) throw new Error(`dataset ${path} has no prompts`);
  return entries;
}

/** A session that sends one request. */
const once = (spec: RequestSpec): Session => {
  let sent = false;
  return { next: () => (sent ? undefined : ((sent = true), spec)) };
};

// Text indices: distinct for every level, warm-up, session and turn, so no two requests share a first word.
const textIndex = (level: number, index: number, warmup: boolean, turn = 0) => level * 10_000_000 + (warmup ? 5_000_000 : 0) + index * 64 + turn;
const PREFIX_INDEX = 999_999_999;

export function createWorkload(o: WorkloadOptions, sizing: Sizing): Workload {
  const cache = new Map<string, Promise<SizedText>>();
  const text = (index: number, tokens: number): Promise<SizedText> => {
    const key = `${index}/${tokens}`;
    let t = cache.get(key);
    if (!t) { t = sizedText(o.seed, index, tokens, sizing.counter, sizing.charsPerToken); cache.set(key, t); }
    return t;
  };
  const spec = (messages: ChatMessage[], maxTokens = o.outputTokens): RequestSpec => ({ messages, maxTokens, ignoreEos: o.ignoreEos });
  const common = { seed: o.seed, outputTokens: o.outputTokens, ignoreEos: o.ignoreEos, inputSizing: sizing.method };
  switch (o.kind) {
    case "synthetic":
      return {
        kind: o.kind, turnsPerSession: 1, settings: { ...common, inputTokens: o.inputTokens },
        session: async (level, index, warmup) => once(spec([{ role: "user", content: (await text(textIndex(level, index, warmup), o.inputTokens)).text }])),
      };
    case "shared-prefix":
      return {
        kind: o.kind, turnsPerSession: 1, settings: { ...common, prefixTokens: o.prefixTokens, questionTokens: o.inputTokens },
        session: async (level, index, warmup) => {
          const prefix = (await text(PREFIX_INDEX, o.prefixTokens)).text;
          const question = (await text(textIndex(level, index, warmup), o.inputTokens)).text;
          return once(spec([{ role: "system", content: prefix }, { role: "user", content: question }]));
        },
      };
    case "multi-turn":
      return {
        kind: o.kind, turnsPerSession: o.turns, sessionsPerLevel: o.conversations,
        settings: { ...common, conversations: o.conversations, turns: o.turns, userTurnTokens: o.inputTokens, systemTokens: o.systemTokens ?? 0 },
        session: async (level, index, warmup) => {
          const turns = warmup ? 1 : o.turns;
          const users: string[] = [];
          for (let t = 0; t < turns; t++) users.push((await text(textIndex(level, index, warmup, t), o.inputTokens)).text);
          const history: ChatMessage[] = o.systemTokens ? [{ role: "system", content: (await text(PREFIX_INDEX, o.systemTokens)).text }] : [];
          let turn = 0;
          return {
            next: (previousAnswer) => {
              if (turn >= turns) return undefined;
              if (turn > 0) history.push({ role: "assistant", content: previousAnswer ?? "" });
              history.push({ role: "user", content: users[turn++]! });
              return spec([...history]);
            },
          };
        },
      };
    case "dataset": {
      const entries = readDataset(o.datasetPath!);
      return {
        kind: o.kind, turnsPerSession: 1, settings: { ...common, dataset: o.datasetPath, entries: entries.length },
        // Measured requests walk the file in order (from the start at every level); warm-ups walk it backwards.
        session: async (_level, index, warmup) => {
          const e = entries[warmup ? entries.length - 1 - (index % entries.length) : index % entries.length]!;
          return once(spec(e.messages, e.maxTokens ?? o.outputTokens));
        },
      };
    }
  }
}
