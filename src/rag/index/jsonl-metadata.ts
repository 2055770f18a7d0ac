/**
 * The embedded metadata store: records kept in memory and made durable as an append-only JSON
 * Lines log (one fsync'd line per change) under NIMBLE_HOME. On open the log is replayed; a torn
 * last line (a crash mid-write) is cut off, so every record is as it was before or after a change.
 * When the log grows to several times the live records it is rewritten to a temporary file and
 * renamed over the old one (atomic). No native dependency, no server.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, truncateSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { MetadataStore, MetaKind } from "./types.js";

type Entry = { op: "put"; kind: MetaKind; id: string; value: unknown } | { op: "del"; kind: MetaKind; id: string };

export class JsonlMetadataStore implements MetadataStore {
  private readonly records = new Map<MetaKind, Map<string, unknown>>();
  private fd: number;
  private lines = 0;

  private constructor(private readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.replay();
    this.fd = openSync(path, "a");
  }

  static async open(path: string): Promise<JsonlMetadataStore> {
    return new JsonlMetadataStore(path);
  }

  private map(kind: MetaKind): Map<string, unknown> {
    let m = this.records.get(kind);
    if (!m) this.records.set(kind, (m = new Map()));
    return m;
  }

  private apply(e: Entry): void {
    if (e.op === "put") this.map(e.kind).set(e.id, e.value);
    else this.map(e.kind).delete(e.id);
  }

  private replay(): void {
    if (!existsSync(this.path)) return;
    const text = readFileSync(this.path, "utf8");
    let good = 0;
    let at = 0;
    while (at < text.length) {
      const end = text.indexOf("\n", at);
      if (end < 0) break; // a torn last line has no newline
      try {
        this.apply(JSON.parse(text.slice(at, end)) as Entry);
      } catch {
        break;
      }
      this.lines++;
      at = end + 1;
      good = Buffer.byteLength(text.slice(0, at));
    }
    if (good < Buffer.byteLength(text)) truncateSync(this.path, good);
  }

  private append(e: Entry): void {
    writeSync(this.fd, JSON.stringify(e) + "\n");
    fsyncSync(this.fd);
    this.apply(e);
    this.lines++;
    let live = 0;
    for (const m of this.records.values()) live += m.size;
    if (this.lines > 1000 && this.lines > 4 * live) this.compact();
  }

  /** Rewrites the log with the live records only: temporary file, fsync, rename. */
  private compact(): void {
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, "w");
    let n = 0;
    for (const [kind, m] of this.records) {
      for (const [id, value] of m) {
        writeSync(fd, JSON.stringify({ op: "put", kind, id, value }) + "\n");
        n++;
      }
    }
    fsyncSync(fd);
    closeSync(fd);
    closeSync(this.fd);
    renameSync(tmp, this.path);
    const dir = openSync(dirname(this.path), "r");
    fsyncSync(dir);
    closeSync(dir);
    this.fd = openSync(this.path, "a");
    this.lines = n;
  }

  async get<T>(kind: MetaKind, id: string): Promise<T | undefined> {
    return structuredClone(this.map(kind).get(id)) as T | undefined;
  }

  async list<T>(kind: MetaKind, prefix = ""): Promise<T[]> {
    const out: T[] = [];
    for (const [id, value] of this.map(kind)) if (id.startsWith(prefix)) out.push(structuredClone(value) as T);
    return out;
  }

  async put(kind: MetaKind, id: string, value: unknown): Promise<void> {
    // Re-inserted at the end only when new: a Map keeps the first insertion's position.
    this.append({ op: "put", kind, id, value });
  }

  async delete(kind: MetaKind, id: string): Promise<void> {
    if (this.map(kind).has(id)) this.append({ op: "del", kind, id });
  }

  async close(): Promise<void> {
    closeSync(this.fd);
  }
}
