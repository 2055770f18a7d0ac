/**
 * The KV cache tier beyond the slot count: the KV cells of sequences that were reassigned, kept in
 * host memory and on disk so that a conversation returning later restores its history instead of
 * prefilling it again.
 *
 * Entries are keyed by a hash of (model fingerprint, LoRA adapter, tokens) and hold llama.cpp's
 * sequence state (`llama_state_seq_get_data`). Both tiers have a size limit and evict the least
 * recently used entry: out of memory to disk (when the disk tier is on), off the disk for good.
 * A disk file carries a header (magic, version, the model's fingerprint, the tokens, a SHA-256 of
 * tokens and state) that is checked before its bytes go anywhere near llama.cpp: a file of another
 * model or a damaged one is rejected and deleted, and the prompt is prefilled instead. Files are
 * written to a temporary name and renamed, so a crash never leaves a partial file under a real name.
 * Files found on disk at start are taken in (headers checked), so the tier survives a restart.
 */
import { createHash } from "node:crypto";
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

export type TierName = "ram" | "disk";

export interface KvTierOptions {
  /** Bytes the host-memory tier may hold (0: off). */
  ramBytes: number;
  /** Bytes the disk tier may hold (0: off). */
  diskBytes: number;
  /** Folder of the disk tier (one per model fingerprint). */
  dir?: string;
  /** Identifies the model and the KV cache layout; entries of another fingerprint are rejected. */
  fingerprint: string;
  /** Shortest sequence worth saving (tokens). */
  minTokens?: number;
}

export interface TierStats {
  /** Restores served from this tier. */
  hits: number;
  /** Entries written into this tier. */
  saves: number;
  /** Entries that left this tier for lack of room (RAM → disk, or dropped). */
  evictions: number;
  /** Entries refused: bad header, checksum, other model, or llama.cpp refused the state. */
  rejected: number;
  /** Bytes held now, and entries. */
  bytes: number;
  entries: number;
  /** Time spent restoring from this tier (reading, checking, loading into llama.cpp), ms. */
  restoreMs: number;
  /** Bytes restored. */
  restoredBytes: number;
}

export interface KvTierStats {
  ram: TierStats;
  disk: TierStats;
  /** Admissions that found no saved prefix longer than what their sequence already held. */
  misses: number;
}

export interface KvEntry {
  readonly key: string;
  readonly tokens: readonly number[];
  readonly adapter: string;
  readonly size: number;
  /** Where the entry is now. */
  readonly tier: TierName;
}

interface StoredEntry extends KvEntry {
  tier: TierName;
  ram?: Buffer;
  used: number;
}

const MAGIC = Buffer.from("NIMBLEKV");
const VERSION = 1;
const headerSchema = z.object({
  fingerprint: z.string(),
  adapter: z.string(),
  tokens: z.number().int().nonnegative(),
  stateBytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
}).strict();
type Header = z.infer<typeof headerSchema>;

function tokenBytes(tokens: readonly number[]): Buffer {
  const buf = Buffer.alloc(tokens.length * 4);
  tokens.forEach((t, i) => buf.writeInt32LE(t, i * 4));
  return buf;
}

function checksum(tokens: Buffer, state: Buffer): string {
  return createHash("sha256").update(tokens).update(state).digest("hex");
}

/** The bytes of a disk-tier file. */
export function encodeKvFile(fingerprint: string, adapter: string, tokens: readonly number[], state: Buffer): Buffer {
  const tok = tokenBytes(tokens);
  const header: Header = { fingerprint, adapter, tokens: tokens.length, stateBytes: state.length, sha256: checksum(tok, state) };
  const json = Buffer.from(JSON.stringify(header));
  const fixed = Buffer.alloc(16);
  MAGIC.copy(fixed, 0);
  fixed.writeUInt32LE(VERSION, 8);
  fixed.writeUInt32LE(json.length, 12);
  return Buffer.concat([fixed, json, tok, state]);
}

/** Reads the header (and tokens) at the start of a disk-tier file's bytes; a reason when they are not valid for `fingerprint`. */
function parseHead(buf: Buffer, fingerprint: string): { header: Header; tokens: number[]; stateOffset: number } | string {
  if (buf.length < 16 || !buf.subarray(0, 8).equals(MAGIC)) return "not a Nimble KV file";
  if (buf.readUInt32LE(8) !== VERSION) return `unknown KV file version ${buf.readUInt32LE(8)}`;
  const jsonLength = buf.readUInt32LE(12);
  if (jsonLength > 4096 || 16 + jsonLength > buf.length) return "truncated header";
  let header: Header;
  try {
    const parsed = headerSchema.safeParse(JSON.parse(buf.subarray(16, 16 + jsonLength).toString("utf8")));
    if (!parsed.success) return "malformed header";
    header = parsed.data;
  } catch {
    return "malformed header";
  }
  if (header.fingerprint !== fingerprint) return "saved by another model or KV cache layout";
  const tokensEnd = 16 + jsonLength + header.tokens * 4;
  if (tokensEnd > buf.length) return "truncated tokens";
  const tokens: number[] = [];
  for (let o = 16 + jsonLength; o < tokensEnd; o += 4) tokens.push(buf.readInt32LE(o));
  return { header, tokens, stateOffset: tokensEnd };
}

/** Checks a whole disk-tier file; returns its contents or why it is refused. */
export function decodeKvFile(buf: Buffer, fingerprint: string): { adapter: string; tokens: number[]; state: Buffer } | string {
  const head = parseHead(buf, fingerprint);
  if (typeof head === "string") return head;
  const { header, tokens, stateOffset } = head;
  if (buf.length !== stateOffset + header.stateBytes) return "wrong length";
  const state = buf.subarray(stateOffset);
  if (checksum(buf.subarray(stateOffset - header.tokens * 4, stateOffset), state) !== header.sha256) return "checksum mismatch";
  return { adapter: header.adapter, tokens, state };
}

function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

function isPrefix(short: readonly number[], long: readonly number[]): boolean {
  return short.length <= long.length && commonPrefixLength(short, long) === short.length;
}

const emptyStats = (): TierStats => ({ hits: 0, saves: 0, evictions: 0, rejected: 0, bytes: 0, entries: 0, restoreMs: 0, restoredBytes: 0 });

export class KvTier {
  private readonly entries = new Map<string, StoredEntry>();
  private readonly tierStats: Record<TierName, TierStats> = { ram: emptyStats(), disk: emptyStats() };
  private misses = 0;
  private clock = 0;
  /** Measured restore cost per tier, ms per byte (exponentially weighted). */
  private readonly msPerByte: Partial<Record<TierName, number>> = {};
  readonly minTokens: number;

  constructor(private readonly options: KvTierOptions) {
    this.minTokens = options.minTokens ?? 32;
    if (options.diskBytes > 0) {
      if (!options.dir) throw new Error("the disk KV tier needs a folder");
      mkdirSync(options.dir, { recursive: true });
      this.scanDisk();
    }
  }

  get enabled(): boolean {
    return this.options.ramBytes > 0 || this.options.diskBytes > 0;
  }

  /** The saved entry sharing the longest prefix with `prompt` (same adapter), and that length. */
  find(prompt: readonly number[], adapter: string): { entry: KvEntry; length: number } | undefined {
    let best: StoredEntry | undefined;
    let bestLen = 0;
    for (const e of this.entries.values()) {
      if (e.adapter !== adapter) continue;
      const len = commonPrefixLength(e.tokens, prompt);
      if (len > bestLen || (len === bestLen && best && e.tier === "ram" && best.tier === "disk")) { best = e; bestLen = len; }
    }
    return best && bestLen > 0 ? { entry: best, length: bestLen } : undefined;
  }

  /** Counts an admission the tier could not help. */
  miss(): void {
    this.misses++;
  }

  /**
   * Whether restoring `entry` is expected to be faster than prefilling `gainTokens` tokens at
   * `prefillMsPerToken` (measured by the caller); without measurements yet, restore (and measure).
   */
  worthRestoring(entry: KvEntry, gainTokens: number, prefillMsPerToken: number | undefined): boolean {
    const rate = this.msPerByte[entry.tier];
    if (rate === undefined || prefillMsPerToken === undefined) return true;
    return rate * entry.size < gainTokens * prefillMsPerToken;
  }

  /**
   * Loads the entry's state and hands it to `apply` (which loads it into a sequence and says whether
   * llama.cpp took it). A damaged or foreign disk file, or a state llama.cpp refuses, is dropped.
   */
  restore(entry: KvEntry, apply: (state: Buffer) => boolean): boolean {
    const e = this.entries.get(entry.key);
    if (!e) return false;
    const tier = e.tier;
    const started = performance.now();
    let state: Buffer | undefined = e.ram;
    if (tier === "disk") {
      let decoded: ReturnType<typeof decodeKvFile>;
      try {
        decoded = decodeKvFile(readFileSync(this.path(e.key)), this.options.fingerprint);
      } catch (err) {
        decoded = (err as Error).message;
      }
      if (typeof decoded === "string" || decoded.adapter !== e.adapter || !isPrefix(decoded.tokens, e.tokens) || decoded.tokens.length !== e.tokens.length) {
        this.drop(e, true);
        return false;
      }
      state = decoded.state;
    }
    if (!state || !apply(state)) {
      this.drop(e, true);
      return false;
    }
    const ms = performance.now() - started;
    const s = this.tierStats[tier];
    s.hits++;
    s.restoreMs += ms;
    s.restoredBytes += e.size;
    const rate = ms / Math.max(1, e.size);
    const prev = this.msPerByte[tier];
    this.msPerByte[tier] = prev === undefined ? rate : prev + 0.3 * (rate - prev);
    e.used = ++this.clock;
    if (tier === "disk" && e.size <= this.options.ramBytes) {
      // Recently used: back into memory (the file stays until the disk tier needs the room).
      e.ram = state.length === e.size ? Buffer.from(state) : state;
      this.moveToRam(e);
    }
    return true;
  }

  /** Whether a saved entry already holds these tokens (or more after them). */
  covers(tokens: readonly number[], adapter: string): boolean {
    for (const e of this.entries.values()) if (e.adapter === adapter && isPrefix(tokens, e.tokens)) return true;
    return false;
  }

  /** Saves a sequence's state; entries that are a prefix of it are dropped (it covers them). */
  save(tokens: readonly number[], adapter: string, state: Buffer): void {
    if (!this.enabled || tokens.length < this.minTokens || state.length === 0) return;
    if (state.length > Math.max(this.options.ramBytes, this.options.diskBytes)) return;
    for (const e of [...this.entries.values()]) if (e.adapter === adapter && isPrefix(e.tokens, tokens)) this.drop(e, false);
    const key = createHash("sha256").update(this.options.fingerprint).update("\0").update(adapter).update("\0").update(tokenBytes(tokens)).digest("hex").slice(0, 32);
    const entry: StoredEntry = { key, tokens: [...tokens], adapter, size: state.length, tier: "ram", ram: state, used: ++this.clock };
    this.entries.set(key, entry);
    if (state.length <= this.options.ramBytes) {
      this.moveToRam(entry);
      this.tierStats.ram.saves++;
    } else if (!this.writeToDisk(entry)) {
      this.entries.delete(key);
    }
  }

  stats(): KvTierStats {
    return { ram: { ...this.tierStats.ram }, disk: { ...this.tierStats.disk }, misses: this.misses };
  }

  /** Empties the memory tier (the disk tier stays for the next start). */
  close(): void {
    for (const e of [...this.entries.values()]) if (e.tier === "ram") this.drop(e, false);
  }

  private path(key: string): string {
    return join(this.options.dir!, `${key}.kv`);
  }

  private moveToRam(e: StoredEntry): void {
    if (e.tier === "disk") this.account("disk", e, -1);
    e.tier = "ram";
    this.account("ram", e, +1);
    this.evict("ram", this.options.ramBytes);
  }

  private account(tier: TierName, e: StoredEntry, sign: 1 | -1): void {
    this.tierStats[tier].bytes += sign * e.size;
    this.tierStats[tier].entries += sign;
  }

  /** Evicts least recently used entries of a tier until it holds at most `limit` bytes. */
  private evict(tier: TierName, limit: number): void {
    while (this.tierStats[tier].bytes > limit) {
      let lru: StoredEntry | undefined;
      for (const e of this.entries.values()) if (e.tier === tier && (!lru || e.used < lru.used)) lru = e;
      if (!lru) return;
      this.tierStats[tier].evictions++;
      if (tier === "ram") {
        this.account("ram", lru, -1);
        if (!this.writeToDisk(lru)) this.entries.delete(lru.key);
      } else {
        this.drop(lru, false);
      }
    }
  }

  /** Puts an entry (whose state is in e.ram) on disk; false when the disk tier is off or too small. */
  private writeToDisk(e: StoredEntry): boolean {
    const state = e.ram;
    e.ram = undefined;
    if (this.options.diskBytes <= 0 || !state || e.size > this.options.diskBytes) return false;
    let onDisk = false;
    try {
      onDisk = statSync(this.path(e.key)).size > 0; // restored from disk earlier: the file is still there
    } catch { /* not there */ }
    if (!onDisk) {
      const tmp = `${this.path(e.key)}.${process.pid}.tmp`;
      try {
        writeFileSync(tmp, encodeKvFile(this.options.fingerprint, e.adapter, e.tokens, state));
        renameSync(tmp, this.path(e.key));
      } catch {
        rmSync(tmp, { force: true });
        return false;
      }
    }
    e.tier = "disk";
    this.account("disk", e, +1);
    this.tierStats.disk.saves++;
    this.evict("disk", this.options.diskBytes);
    return true;
  }

  private drop(e: StoredEntry, rejected: boolean): void {
    if (!this.entries.delete(e.key)) return;
    if (rejected) this.tierStats[e.tier].rejected++;
    this.account(e.tier, e, -1);
    e.ram = undefined;
    if (this.options.dir) rmSync(this.path(e.key), { force: true });
  }

  /** Takes in the files a previous run left (headers checked; foreign or unreadable ones are deleted). */
  private scanDisk(): void {
    const dir = this.options.dir!;
    const found: { e: StoredEntry; mtime: number }[] = [];
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (name.endsWith(".tmp")) { rmSync(path, { force: true }); continue; }
      const m = /^([0-9a-f]{32})\.kv$/.exec(name);
      if (!m) continue;
      let head: ReturnType<typeof parseHead> = "unreadable";
      let size = 0;
      let mtime = 0;
      try {
        const st = statSync(path);
        size = st.size;
        mtime = st.mtimeMs;
        const fd = openSync(path, "r");
        try {
          const first = Buffer.alloc(Math.min(size, 16 + 4096));
          readSync(fd, first, 0, first.length, 0);
          const jsonLength = first.length >= 16 ? first.readUInt32LE(12) : 0;
          const headerEnd = 16 + Math.min(jsonLength, 4096);
          const tokensGuess = Math.min(size, headerEnd + 4 * 1_048_576);
          const buf = Buffer.alloc(tokensGuess);
          readSync(fd, buf, 0, buf.length, 0);
          head = parseHead(buf, this.options.fingerprint);
        } finally {
          closeSync(fd);
        }
      } catch { /* unreadable */ }
      if (typeof head === "string" || size !== head.stateOffset + head.header.stateBytes) {
        this.tierStats.disk.rejected++;
        rmSync(path, { force: true });
        continue;
      }
      found.push({ e: { key: m[1]!, tokens: head.tokens, adapter: head.header.adapter, size: head.header.stateBytes, tier: "disk", used: 0 }, mtime });
    }
    found.sort((a, b) => a.mtime - b.mtime);
    for (const { e } of found) {
      e.used = ++this.clock;
      this.entries.set(e.key, e);
      this.account("disk", e, +1);
    }
    this.evict("disk", this.options.diskBytes);
  }
}
