/**
 * The model store: model files under `<home>/models/` and a small JSON index beside them
 * (`index.json`: name, source, the references that resolved to it, files with size and sha256,
 * when pulled, when last used). The index is rewritten atomically (temporary file, then rename).
 */
import { randomBytes } from "node:crypto";
import { readdir, readFile, rename, rm, rmdir, stat, writeFile, mkdir } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { z } from "zod";
import { splitInfo } from "./hub.js";

const StoredFile = z.object({ path: z.string(), size: z.number(), sha256: z.string().optional() });
const StoreEntry = z.object({
  name: z.string(),
  /** Where it came from: `hf:owner/repo/file.gguf`, a URL, a local path, or `demo`. */
  source: z.string(),
  /** Other references that resolved to these files (e.g. `hf:owner/repo:Q4_K_M`). */
  aliases: z.array(z.string()).default([]),
  /** Paths relative to `<home>/models`; the first is the one served (split GGUFs list every part). */
  files: z.array(StoredFile).min(1),
  pulledAt: z.string(),
  lastUsed: z.string().optional(),
});
const StoreIndex = z.object({ version: z.literal(1), models: z.array(StoreEntry) });

export type StoredFile = z.infer<typeof StoredFile>;
export type StoreEntry = z.infer<typeof StoreEntry>;

export class StoreError extends Error {
  override name = "StoreError";
}

/** The display name of a model file: its file name without `.gguf` and without a split suffix. */
export function modelNameOf(path: string): string {
  const s = splitInfo(path);
  return basename(s ? s.prefix : path).replace(/\.gguf$/i, "");
}

export class ModelStore {
  readonly dir: string;
  private readonly indexPath: string;

  constructor(home: string) {
    this.dir = resolve(home, "models");
    this.indexPath = join(this.dir, "index.json");
  }

  /** Absolute path of a store-relative file. */
  pathOf(relativePath: string): string {
    return join(this.dir, relativePath);
  }

  relativePath(absolute: string): string | undefined {
    const rel = relative(this.dir, resolve(absolute));
    return rel.startsWith("..") || rel.startsWith(sep) || rel === "" ? undefined : rel.split(sep).join("/");
  }

  async read(): Promise<StoreEntry[]> {
    let text: string;
    try {
      text = await readFile(this.indexPath, "utf8");
    } catch {
      return [];
    }
    let json: unknown;
    try { json = JSON.parse(text); } catch { json = undefined; }
    const parsed = StoreIndex.safeParse(json);
    if (!parsed.success) throw new StoreError(`the model store's index ${this.indexPath} is damaged; delete it (the model files stay and are listed again)`);
    return parsed.data.models;
  }

  private async write(models: StoreEntry[]): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const tmp = `${this.indexPath}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    await writeFile(tmp, `${JSON.stringify({ version: 1, models }, null, 2)}\n`);
    await rename(tmp, this.indexPath);
  }

  /** Read, change, write back (the index is small; the last writer wins). */
  async update<T>(change: (models: StoreEntry[]) => T): Promise<T> {
    const models = await this.read();
    const result = change(models);
    await this.write(models);
    return result;
  }

  /** The entry for a reference (its source or an alias), if its files are all still there. */
  async findByRef(ref: string): Promise<{ entry: StoreEntry; path: string } | undefined> {
    const key = normalizeRef(ref);
    for (const entry of await this.read()) {
      if (normalizeRef(entry.source) !== key && !entry.aliases.some((a) => normalizeRef(a) === key)) continue;
      if (await this.filesPresent(entry)) return { entry, path: this.pathOf(entry.files[0]!.path) };
    }
    return undefined;
  }

  async filesPresent(entry: StoreEntry): Promise<boolean> {
    for (const f of entry.files) {
      if (!(await stat(this.pathOf(f.path)).then((s) => s.isFile(), () => false))) return false;
    }
    return true;
  }

  /** Adds or replaces the entry for these files (same first file), keeping its aliases and adding `alias`. */
  async record(entry: Omit<StoreEntry, "aliases" | "pulledAt"> & { alias?: string }): Promise<StoreEntry> {
    return this.update((models) => {
      const i = models.findIndex((m) => m.files[0]!.path === entry.files[0]!.path);
      const old = i >= 0 ? models[i] : undefined;
      const aliases = new Set(old?.aliases ?? []);
      if (entry.alias && normalizeRef(entry.alias) !== normalizeRef(entry.source)) aliases.add(entry.alias);
      const next: StoreEntry = {
        name: entry.name,
        source: entry.source,
        aliases: [...aliases],
        files: entry.files,
        pulledAt: old?.pulledAt ?? new Date().toISOString(),
        ...(entry.lastUsed ?? old?.lastUsed ? { lastUsed: entry.lastUsed ?? old?.lastUsed } : {}),
      };
      if (i >= 0) models[i] = next;
      else models.push(next);
      return next;
    });
  }

  async touch(relativeFirstFile: string): Promise<void> {
    await this.update((models) => {
      const entry = models.find((m) => m.files[0]!.path === relativeFirstFile);
      if (entry) entry.lastUsed = new Date().toISOString();
    });
  }

  /**
   * Every model in the store: indexed entries whose files are present, then `.gguf` files found in
   * the folder that the index does not know (copied in by hand, or from an older Nimble).
   */
  async list(): Promise<StoreEntry[]> {
    const indexed: StoreEntry[] = [];
    for (const e of await this.read()) if (await this.filesPresent(e)) indexed.push(e);
    const known = new Set(indexed.flatMap((e) => e.files.map((f) => f.path)));
    const found: StoreEntry[] = [];
    for (const rel of await this.scan()) {
      if (known.has(rel) || (splitInfo(rel)?.part ?? 1) !== 1) continue;
      const s = await stat(this.pathOf(rel));
      found.push({ name: modelNameOf(rel), source: "unknown (not pulled by Nimble)", aliases: [], files: [{ path: rel, size: s.size }], pulledAt: s.mtime.toISOString() });
    }
    return [...indexed, ...found].sort((a, b) => a.name.localeCompare(b.name));
  }

  private async scan(): Promise<string[]> {
    const entries = await readdir(this.dir, { recursive: true, withFileTypes: true }).catch(() => []);
    return entries
      .filter((e) => e.isFile() && /\.gguf$/i.test(e.name))
      .map((e) => relative(this.dir, join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).split(sep).join("/"));
  }

  /**
   * Finds a model by name, reference or path. A name two models share is an error listing both
   * sources (use the full reference then).
   */
  async find(nameOrRef: string): Promise<StoreEntry> {
    const models = await this.list();
    const key = normalizeRef(nameOrRef);
    const byRef = models.filter((m) => normalizeRef(m.source) === key || m.aliases.some((a) => normalizeRef(a) === key));
    if (byRef.length > 0) return byRef[0]!;
    const rel = this.relativePath(nameOrRef);
    const byPath = models.filter((m) => m.files[0]!.path === nameOrRef || (rel !== undefined && m.files[0]!.path === rel));
    if (byPath.length > 0) return byPath[0]!;
    const byName = models.filter((m) => m.name === nameOrRef || m.name.toLowerCase() === nameOrRef.toLowerCase());
    if (byName.length === 1) return byName[0]!;
    if (byName.length > 1) throw new StoreError(`"${nameOrRef}" names ${byName.length} models; give the full reference: ${byName.map((m) => m.source).join(", ")}`);
    const names = models.map((m) => m.name);
    throw new StoreError(`no model "${nameOrRef}" in the store (${this.dir})${names.length ? `; it has: ${names.join(", ")}` : "; it is empty (nimble pull REF adds one)"}`);
  }

  /** Deletes a model's files (and any interrupted download of them), its entry, and folders left empty. */
  async remove(entry: StoreEntry): Promise<number> {
    let freed = 0;
    for (const f of entry.files) {
      const path = this.pathOf(f.path);
      if (this.relativePath(path) === undefined) throw new StoreError(`refusing to delete ${path}: it is outside the store`);
      freed += await stat(path).then((s) => s.size, () => 0);
      await rm(path, { force: true });
      await rm(`${path}.part`, { force: true });
      await rm(`${path}.part.json`, { force: true });
    }
    const first = entry.files[0]!.path;
    await this.update((models) => {
      const i = models.findIndex((m) => m.files[0]!.path === first);
      if (i >= 0) models.splice(i, 1);
    });
    for (let dir = dirname(this.pathOf(first)); this.relativePath(dir) !== undefined; dir = dirname(dir)) {
      if (!(await rmdir(dir).then(() => true, () => false))) break;
    }
    return freed;
  }
}

/** References compare case-insensitively on the quantization tag and ignore an `hf://` prefix. */
function normalizeRef(ref: string): string {
  const r = ref.replace(/^hf:\/\//i, "hf:");
  const m = /^(hf:[^:]+):([^/]+)$/i.exec(r);
  return m ? `${m[1]}:${m[2]!.toUpperCase()}` : r;
}
