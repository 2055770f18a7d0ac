/**
 * API keys: generated (`nmb-` + 256 random bits), stored only as SHA-256 hashes in
 * `<home>/keys.json` (mode 0600, written atomically), and checked in constant time.
 * A key has a name (what logs and metrics show), a scope and optional per-key limits.
 *
 * SHA-256 without a salt is enough for generated keys: with 256 bits of entropy there is nothing
 * to brute-force or to precompute. Keys given on the command line are hashed the same way in memory.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";

export const SCOPES = ["inference", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

/** Per-key limits; an absent limit falls back to the server-wide default (0 there: unlimited). */
export const keyLimitsSchema = z.object({
  rpm: z.number().int().nonnegative().optional(),
  tpm: z.number().int().nonnegative().optional(),
  concurrency: z.number().int().nonnegative().optional(),
});
export type KeyLimits = z.infer<typeof keyLimitsSchema>;

export const KEY_NAME = /^[A-Za-z0-9._-]{1,64}$/;

const storedKeySchema = z.object({
  name: z.string().regex(KEY_NAME),
  scope: z.enum(SCOPES),
  /** SHA-256 of the key, hex. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  /** The key's first characters, to recognise it in `nimble keys ls`. */
  hint: z.string(),
  createdAt: z.string(),
  limits: keyLimitsSchema.default({}),
  /** The guardrails configuration the key's requests get by default (an id of the guardrails file). */
  guardrails: z.string().min(1).optional(),
});
export type StoredKey = z.infer<typeof storedKeySchema>;

const keyFileSchema = z.object({ version: z.literal(1), keys: z.array(storedKeySchema) });

/** A key the server accepts: its hash, never the key itself. */
export interface KeyEntry {
  name: string;
  scope: Scope;
  hash: Buffer;
  limits: KeyLimits;
  /** Default guardrails configuration of the key's requests. */
  guardrails?: string;
}

export const KEY_PREFIX = "nmb-";

export function hashKey(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

/** A new random key. */
export function generateKey(): string {
  return KEY_PREFIX + randomBytes(32).toString("base64url");
}

/**
 * The entry whose hash matches `presented`, or undefined. Every entry is compared (no early exit),
 * each comparison is constant-time over equal-length digests: the timing says nothing about the keys.
 */
export function findKey(entries: readonly KeyEntry[], presented: string): KeyEntry | undefined {
  const digest = hashKey(presented);
  let found: KeyEntry | undefined;
  for (const entry of entries) {
    if (timingSafeEqual(entry.hash, digest) && found === undefined) found = entry;
  }
  return found;
}

export class KeyStoreError extends Error {
  override name = "KeyStoreError";
}

export function keyFilePath(home: string): string {
  return join(home, "keys.json");
}

/** The keys stored in the Nimble home folder (created with `nimble keys create`). */
export class KeyStore {
  private cached: { stamp: string; entries: KeyEntry[] } | undefined;

  constructor(readonly path: string) {}

  static inHome(home: string): KeyStore {
    return new KeyStore(keyFilePath(home));
  }

  list(): StoredKey[] {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw new KeyStoreError(`cannot read the key file ${this.path}: ${(err as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new KeyStoreError(`the key file ${this.path} is not valid JSON`);
    }
    const parsed = keyFileSchema.safeParse(json);
    if (!parsed.success) throw new KeyStoreError(`the key file ${this.path} is malformed: ${parsed.error.issues[0]?.message ?? "invalid"}`);
    return parsed.data.keys;
  }

  /**
   * The stored keys as entries, re-read whenever the file changes (so `nimble keys create/rm`
   * take effect on a running server). A file that turns unreadable keeps the last good entries.
   */
  entries(): KeyEntry[] {
    const st = statSync(this.path, { throwIfNoEntry: false });
    const stamp = st ? `${st.ino}:${st.size}:${st.mtimeMs}` : "none";
    if (this.cached?.stamp === stamp) return this.cached.entries;
    try {
      const entries = this.list().map((k) => ({ name: k.name, scope: k.scope, hash: Buffer.from(k.hash, "hex"), limits: k.limits, ...(k.guardrails ? { guardrails: k.guardrails } : {}) }));
      this.cached = { stamp, entries };
    } catch (err) {
      if (!this.cached) throw err;
    }
    return this.cached!.entries;
  }

  /** Creates a key and returns it: the only time it exists in plain text. */
  create(name: string, scope: Scope, limits: KeyLimits = {}, guardrails?: string): { key: string; stored: StoredKey } {
    if (!KEY_NAME.test(name)) throw new KeyStoreError(`invalid key name "${name}": use 1-64 letters, digits, ".", "_" or "-"`);
    const keys = this.list();
    if (keys.some((k) => k.name === name)) throw new KeyStoreError(`a key named "${name}" already exists`);
    const key = generateKey();
    const stored: StoredKey = { name, scope, hash: hashKey(key).toString("hex"), hint: `${key.slice(0, KEY_PREFIX.length + 4)}…`, createdAt: new Date().toISOString(), limits, ...(guardrails ? { guardrails } : {}) };
    this.write([...keys, stored]);
    return { key, stored };
  }

  /** Removes a key by name; false if there was none. */
  remove(name: string): boolean {
    const keys = this.list();
    const rest = keys.filter((k) => k.name !== name);
    if (rest.length === keys.length) return false;
    this.write(rest);
    return true;
  }

  /** Writes the file atomically (a temporary file, fsync, rename), readable by its owner only. */
  private write(keys: StoredKey[]): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    const fd = openSync(tmp, "wx", 0o600);
    try {
      writeSync(fd, `${JSON.stringify({ version: 1, keys }, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      renameSync(tmp, this.path);
    } catch (err) {
      unlinkSync(tmp);
      throw err;
    }
  }
}

/** Every key the server accepts: those given in the configuration (admin scope) and the stored ones. */
export class KeyRing {
  constructor(
    private readonly configured: readonly KeyEntry[] = [],
    private readonly store?: KeyStore,
  ) {}

  /** The keys of the configuration (`--api-key`, NIMBLE_API_KEYS, `--api-key-file`) and of the home folder's key file. */
  static load(options: { apiKeys?: readonly string[]; apiKeyFile?: string; home?: string }): KeyRing {
    const keys = [...(options.apiKeys ?? [])].map((key, i) => ({ key, name: `api-key-${i + 1}` }));
    if (options.apiKeyFile) {
      let text: string;
      try {
        text = readFileSync(options.apiKeyFile, "utf8");
      } catch (err) {
        throw new KeyStoreError(`cannot read the API key file ${options.apiKeyFile}: ${(err as Error).message}`);
      }
      const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith("#"));
      lines.forEach((key, i) => keys.push({ key, name: `api-key-file-${i + 1}` }));
    }
    const entries = keys.map(({ key, name }): KeyEntry => ({ name, scope: "admin", hash: hashKey(key), limits: {} }));
    const ring = new KeyRing(entries, options.home === undefined ? undefined : KeyStore.inHome(options.home));
    ring.entries(); // a malformed key file stops the server at startup, not at the first request
    return ring;
  }

  entries(): KeyEntry[] {
    const stored = this.store?.entries() ?? [];
    return stored.length === 0 ? [...this.configured] : [...this.configured, ...stored];
  }

  /** Whether any key exists: then every route but the public ones needs one. */
  get enabled(): boolean {
    return this.entries().length > 0;
  }

  find(presented: string): KeyEntry | undefined {
    return findKey(this.entries(), presented);
  }
}
