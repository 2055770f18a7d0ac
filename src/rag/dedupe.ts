/**
 * Near-duplicate detection for chunks within a vector store: MinHash over character 5-gram
 * shingles (text lower-cased, NFKC, punctuation and whitespace runs folded to one space), 128
 * hashes, banded LSH (32 bands of 4 rows) to find candidates, then the estimated Jaccard
 * similarity decides. Default threshold 0.8, as NVIDIA NeMo Curator's fuzzy dedup.
 *
 * What 0.8 means in practice: the same paragraph with a few words changed, re-wrapped, or in other
 * casing/punctuation is a duplicate; two consecutive chunks that overlap by half (OpenAI's auto
 * strategy) are not (Jaccard about 1/3). With 32×4 bands a pair at similarity 0.8 becomes a
 * candidate with probability > 0.999, so misses are rare; the final check uses all 128 hashes.
 *
 * Signatures are plain data (`encodeSignature` gives a base64 string) so an index can store one per
 * chunk and rebuild a NearDuplicateIndex with `addSignature` when it opens, or (a shared index,
 * PostgreSQL) store each chunk's LSH band keys (`lshBands`) and look candidates up by them.
 */

import type { ChunkIndex, StoredSignature } from "./index/types.js";

export const MINHASH_PERMUTATIONS = 128;
export const LSH_BANDS = 32;
export const LSH_ROWS = MINHASH_PERMUTATIONS / LSH_BANDS;
export const SHINGLE_CHARS = 5;
export const DEFAULT_DUPLICATE_THRESHOLD = 0.8;

export type MinHashSignature = Uint32Array;

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const SEEDS = Uint32Array.from({ length: MINHASH_PERMUTATIONS }, (_, i) => fmix32(Math.imul(i + 1, 0x9e3779b9)));

/** The text shingles are taken from: NFKC, lower case, runs of non-letters/digits as one space. */
export function shingleText(text: string): string {
  return text.normalize("NFKC").toLowerCase().replace(/[^\p{L}\p{N}]+/gu, " ").trim();
}

/** The MinHash signature of a text (128 unsigned 32-bit minima). */
export function minhashSignature(text: string): MinHashSignature {
  const s = shingleText(text);
  const sig = new Uint32Array(MINHASH_PERMUTATIONS).fill(0xffffffff);
  const last = Math.max(1, s.length - SHINGLE_CHARS + 1);
  const seen = new Set<number>();
  for (let i = 0; i < last; i++) {
    // FNV-1a of the shingle.
    let h = 0x811c9dc5;
    for (let j = i; j < Math.min(s.length, i + SHINGLE_CHARS); j++) h = Math.imul(h ^ s.charCodeAt(j), 0x01000193);
    h >>>= 0;
    if (seen.has(h)) continue;
    seen.add(h);
    for (let k = 0; k < MINHASH_PERMUTATIONS; k++) {
      const v = fmix32(h ^ SEEDS[k]!);
      if (v < sig[k]!) sig[k] = v;
    }
  }
  return sig;
}

/** Estimated Jaccard similarity of the shingle sets behind two signatures. */
export function estimatedSimilarity(a: MinHashSignature, b: MinHashSignature): number {
  let same = 0;
  for (let k = 0; k < MINHASH_PERMUTATIONS; k++) if (a[k] === b[k]) same++;
  return same / MINHASH_PERMUTATIONS;
}

export function encodeSignature(sig: MinHashSignature): string {
  return Buffer.from(sig.buffer, sig.byteOffset, sig.byteLength).toString("base64");
}

/** @throws Error when the string is not a signature written by encodeSignature. */
export function decodeSignature(encoded: string): MinHashSignature {
  const bytes = Buffer.from(encoded, "base64");
  if (bytes.length !== MINHASH_PERMUTATIONS * 4) throw new Error("Not a MinHash signature.");
  const out = new Uint32Array(MINHASH_PERMUTATIONS);
  for (let k = 0; k < MINHASH_PERMUTATIONS; k++) out[k] = bytes.readUInt32LE(k * 4);
  return out;
}

/**
 * The signature's LSH band keys: band b's 4 rows hashed to 32 bits h, as b · 2³² + h (a safe
 * integer below 2³⁷, so a bigint column can hold it). Two signatures are candidates when they share one.
 */
export function lshBands(sig: MinHashSignature): number[] {
  const keys: number[] = [];
  for (let b = 0; b < LSH_BANDS; b++) {
    let h = b;
    for (let r = 0; r < LSH_ROWS; r++) h = fmix32(h ^ sig[b * LSH_ROWS + r]!);
    keys.push(b * 2 ** 32 + h);
  }
  return keys;
}

/** Chunks kept so far in a store, to refuse near-duplicates of them. */
export class NearDuplicateIndex {
  private readonly signatures = new Map<string, MinHashSignature>();
  private readonly buckets = new Map<number, Set<string>>();

  constructor(readonly threshold = DEFAULT_DUPLICATE_THRESHOLD) {}

  get size(): number {
    return this.signatures.size;
  }

  /** Adds a text unless a near-duplicate is already in; false (and not added) when one is. */
  add(id: string, text: string): boolean {
    return this.addSignature(id, minhashSignature(text));
  }

  /** As add, from a stored signature (to rebuild the index). */
  addSignature(id: string, sig: MinHashSignature): boolean {
    if (this.findDuplicate(sig) !== undefined) return false;
    this.insert(id, sig);
    return true;
  }

  /** Adds without checking (rebuilding from chunks already accepted). */
  insert(id: string, sig: MinHashSignature): void {
    this.remove(id);
    this.signatures.set(id, sig);
    for (const key of lshBands(sig)) {
      let bucket = this.buckets.get(key);
      if (!bucket) this.buckets.set(key, (bucket = new Set()));
      bucket.add(id);
    }
  }

  /** The id of a kept chunk at or above the threshold, if any (the most similar). */
  findDuplicate(sig: MinHashSignature): string | undefined {
    let best: string | undefined;
    let bestScore = -1;
    const checked = new Set<string>();
    for (const key of lshBands(sig)) {
      for (const id of this.buckets.get(key) ?? []) {
        if (checked.has(id)) continue;
        checked.add(id);
        const score = estimatedSimilarity(sig, this.signatures.get(id)!);
        if (score >= this.threshold && score > bestScore) {
          best = id;
          bestScore = score;
        }
      }
    }
    return best;
  }

  /** Forgets a chunk (its file was deleted from the store). */
  remove(id: string): boolean {
    const sig = this.signatures.get(id);
    if (!sig) return false;
    for (const key of lshBands(sig)) {
      const bucket = this.buckets.get(key);
      bucket?.delete(id);
      if (bucket?.size === 0) this.buckets.delete(key);
    }
    return this.signatures.delete(id);
  }
}

export interface DedupeResult<C> {
  /** The chunks kept, in order. */
  kept: C[];
  /** The signature of each kept chunk (encodeSignature), for the index to store. */
  signatures: string[];
  /** Chunks dropped as near-duplicates. */
  dropped: number;
  /** Other files of the store holding the chunks the dropped ones duplicate. */
  duplicateOf: string[];
}

interface StoreState {
  index: NearDuplicateIndex;
  files: Map<string, string[]>;
  /** Filters waiting for their lookup in a shared index (it may not show what commits meanwhile). */
  lookups: number;
  /** Committed files whose reservation ends once no lookup is waiting. */
  settled: Set<string>;
}

function emptyState(threshold?: number): StoreState {
  return { index: new NearDuplicateIndex(threshold), files: new Map(), lookups: 0, settled: new Set() };
}

function decodeStored(r: StoredSignature): MinHashSignature {
  try {
    if (r.signature) return decodeSignature(r.signature);
  } catch {
    // Not a signature: computed from the text below.
  }
  return minhashSignature(r.text ?? "");
}

/**
 * Near-duplicate detection per vector store, for the ingestion pipeline. A file's chunk i is
 * `<file id>:<i>`. What it sees depends on what the chunk index offers:
 *
 * - An index with `signatures` (LanceDB, embedded, one process): one NearDuplicateIndex per store,
 *   loaded on first use from the stored signatures (so it survives restarts), updated as files are
 *   ingested and forgotten as they leave.
 * - An index with `duplicateCandidates` (PostgreSQL, shared by replicas): the candidates of each
 *   file's chunks are looked up in the index by their LSH band keys when the file is filtered, so
 *   what any replica committed counts, also after a restart. The in-memory index then holds only
 *   the files this process is ingesting (reserved until their chunks are committed and no lookup
 *   that began before the commit is still waiting).
 * - Neither: detection covers what this process ingested since it started.
 */
export class StoreDeduplicator {
  private readonly stores = new Map<string, Promise<StoreState>>();

  constructor(private readonly source: Pick<ChunkIndex, "signatures" | "duplicateCandidates">, readonly threshold = DEFAULT_DUPLICATE_THRESHOLD) {}

  private get shared(): boolean {
    return this.source.duplicateCandidates !== undefined;
  }

  private state(storeId: string): Promise<StoreState> {
    let state = this.stores.get(storeId);
    if (!state) {
      const load = !this.shared && this.source.signatures ? this.source.signatures(storeId) : Promise.resolve([]);
      state = load.then((rows) => {
        const s = emptyState(this.threshold);
        for (const r of rows) {
          s.index.insert(r.id, decodeStored(r));
          const ids = s.files.get(r.fileId) ?? [];
          ids.push(r.id);
          s.files.set(r.fileId, ids);
        }
        return s;
      });
      state.catch(() => this.stores.delete(storeId));
      this.stores.set(storeId, state);
    }
    return state;
  }

  /** The committed chunks of other files sharing a band with any of `sigs` (shared index only). */
  private async storedCandidates(storeId: string, fileId: string, sigs: readonly MinHashSignature[]): Promise<NearDuplicateIndex | undefined> {
    if (!this.source.duplicateCandidates || sigs.length === 0) return undefined;
    const bands = [...new Set(sigs.flatMap(lshBands))];
    const found = new NearDuplicateIndex(this.threshold);
    for (const r of await this.source.duplicateCandidates(storeId, bands, fileId)) found.insert(r.id, decodeStored(r));
    return found;
  }

  /**
   * Keeps the chunks of a file that are not near-duplicates of a chunk already in the store or
   * earlier in the same file, and reserves the kept ones (`<fileId>:<kept index>`) at once, so a
   * file ingested next sees them. Call forgetFile when the file does not reach the index, and
   * committedFile when it did.
   */
  async filter<C extends { text: string }>(storeId: string, fileId: string, chunks: readonly C[]): Promise<DedupeResult<C>> {
    const s = await this.state(storeId);
    const sigs = chunks.map((c) => minhashSignature(c.text));
    s.lookups++;
    let committed: NearDuplicateIndex | undefined;
    try {
      committed = await this.storedCandidates(storeId, fileId, sigs);
    } finally {
      s.lookups--;
    }
    // From here on synchronous: files filtered concurrently see each other's reservations, and a
    // file committed while this lookup ran (which it may not have seen) is still reserved.
    this.forgetIn(s, fileId);
    const out: DedupeResult<C> = { kept: [], signatures: [], dropped: 0, duplicateOf: [] };
    const of = new Set<string>();
    const ids: string[] = [];
    for (const [i, c] of chunks.entries()) {
      const sig = sigs[i]!;
      const dup = s.index.findDuplicate(sig) ?? committed?.findDuplicate(sig);
      if (dup !== undefined) {
        out.dropped++;
        const owner = dup.slice(0, dup.lastIndexOf(":"));
        if (owner !== fileId) of.add(owner);
        continue;
      }
      const id = `${fileId}:${out.kept.length}`;
      s.index.insert(id, sig);
      ids.push(id);
      out.kept.push(c);
      out.signatures.push(encodeSignature(sig));
    }
    s.files.set(fileId, ids);
    if (s.lookups === 0) for (const id of s.settled) this.forgetIn(s, id);
    out.duplicateOf = [...of];
    return out;
  }

  private forgetIn(s: StoreState, fileId: string): void {
    for (const id of s.files.get(fileId) ?? []) s.index.remove(id);
    s.files.delete(fileId);
    s.settled.delete(fileId);
  }

  /** Forgets a file's chunks (detached, re-attached, failed or cancelled). */
  async forgetFile(storeId: string, fileId: string): Promise<void> {
    const state = this.stores.get(storeId);
    if (state) this.forgetIn(await state.catch(() => emptyState()), fileId);
  }

  /**
   * The file's chunks (and signatures) are committed to the index. With a shared index its
   * reservation ends: the index answers for it now, also once another replica deletes the file.
   */
  async committedFile(storeId: string, fileId: string): Promise<void> {
    const state = this.stores.get(storeId);
    if (!this.shared || !state) return;
    const s = await state.catch(() => emptyState());
    if (s.lookups === 0) this.forgetIn(s, fileId);
    else s.settled.add(fileId);
  }

  /** Forgets a whole store (deleted). */
  dropStore(storeId: string): void {
    this.stores.delete(storeId);
  }
}
