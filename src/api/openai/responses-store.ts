/**
 * Stored responses (the Responses API's `store`): one SQLite database under the home folder,
 * so they survive restarts. Each row belongs to the API key that created it and is invisible to
 * every other key. Retention: rows older than `maxAgeSeconds`, and the oldest beyond `maxCount`,
 * are deleted as new ones are written.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { ChatCompletionRequest } from "../protocol.js";
import type { ResponseObject } from "./responses-schema.js";

/** An input item as input_items lists it: with an id and a status. */
export type StoredInputItem = Record<string, unknown> & { id: string; type: string };

export type ChatHistory = ChatCompletionRequest["messages"];

export interface StoredResponse {
  owner: string;
  response: ResponseObject;
  inputItems: StoredInputItem[];
  /** The conversation up to and including this response's output, as chat messages (instructions excluded). */
  history: ChatHistory;
  /** The stream events, for GET …?stream=true (kept once the response is finished). */
  events: unknown[];
}

export interface RetentionLimits {
  /** Seconds a stored response is kept (0: no limit). */
  maxAgeSeconds: number;
  /** Most responses kept; the oldest go first (0: no limit). */
  maxCount: number;
}

export class ResponseStore {
  private readonly db: Database.Database;

  /** `path` ":memory:" keeps nothing across restarts (servers started without a home folder). */
  constructor(path: string, private readonly retention: RetentionLimits) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.exec(`CREATE TABLE IF NOT EXISTS responses (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      owner TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      response TEXT NOT NULL,
      input_items TEXT NOT NULL,
      history TEXT NOT NULL,
      events TEXT NOT NULL
    )`);
  }

  /** Writes (or rewrites) a response, then applies the retention limits. */
  put(entry: StoredResponse): void {
    const r = entry.response;
    this.db
      .prepare(`INSERT INTO responses (id, owner, created_at, response, input_items, history, events) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET response = excluded.response, history = excluded.history, events = excluded.events`)
      .run(r.id, entry.owner, r.created_at, JSON.stringify(r), JSON.stringify(entry.inputItems), JSON.stringify(entry.history), JSON.stringify(entry.events));
    this.prune();
  }

  /** The response, when it exists and belongs to `owner`. */
  get(id: string, owner: string): StoredResponse | undefined {
    const row = this.db.prepare("SELECT * FROM responses WHERE id = ? AND owner = ?").get(id, owner) as Row | undefined;
    if (!row) return undefined;
    if (this.retention.maxAgeSeconds > 0 && row.created_at < nowSeconds() - this.retention.maxAgeSeconds) return undefined;
    return {
      owner: row.owner,
      response: JSON.parse(row.response) as ResponseObject,
      inputItems: JSON.parse(row.input_items) as StoredInputItem[],
      history: JSON.parse(row.history) as ChatHistory,
      events: JSON.parse(row.events) as unknown[],
    };
  }

  /** Deletes the response if `owner` has it. */
  delete(id: string, owner: string): boolean {
    return this.db.prepare("DELETE FROM responses WHERE id = ? AND owner = ?").run(id, owner).changes > 0;
  }

  count(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM responses").get() as { n: number }).n;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private prune(): void {
    const { maxAgeSeconds, maxCount } = this.retention;
    if (maxAgeSeconds > 0) this.db.prepare("DELETE FROM responses WHERE created_at < ?").run(nowSeconds() - maxAgeSeconds);
    if (maxCount > 0) this.db.prepare("DELETE FROM responses WHERE seq NOT IN (SELECT seq FROM responses ORDER BY seq DESC LIMIT ?)").run(maxCount);
  }
}

interface Row {
  id: string;
  owner: string;
  created_at: number;
  response: string;
  input_items: string;
  history: string;
  events: string;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
