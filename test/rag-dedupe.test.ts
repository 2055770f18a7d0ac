/**
 * Near-duplicate detection: MinHash signatures, the 0.8 threshold, persistence of signatures,
 * removal; StoreDeduplicator over a shared index (lookups by band key) with a commit landing while a
 * lookup runs.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeSignature, encodeSignature, estimatedSimilarity, lshBands, minhashSignature, NearDuplicateIndex, StoreDeduplicator } from "../src/rag/dedupe.js";
import type { StoredSignature } from "../src/rag/index/types.js";

const base = "The aurora borealis observatory in Tromsø opens at nine every evening from October to March. Visitors must book the heated cabin in advance, and tripods are available at the front desk for a small deposit.";

describe("near-duplicate index", () => {
  it("refuses exact and near duplicates (casing, punctuation, wrapping, a changed word) and keeps distinct text", () => {
    const index = new NearDuplicateIndex();
    assert.equal(index.add("a", base), true);
    assert.equal(index.add("b", base), false, "exact duplicate");
    assert.equal(index.add("c", base.toUpperCase().replace(/,/g, "").replace(/\. /g, ".\n")), false, "case, punctuation and line breaks");
    assert.equal(index.add("d", base.replace("nine", "ten")), false, "one word changed");
    assert.equal(index.add("e", "Parental leave lasts sixteen weeks and can be split into two blocks within the first two years."), true);
    assert.equal(index.size, 2);
  });

  it("two chunks overlapping by half are not duplicates (OpenAI's auto overlap)", () => {
    const words = Array.from({ length: 400 }, (_, i) => `word${i * 7919 % 1000}`);
    const first = words.slice(0, 200).join(" ");
    const second = words.slice(100, 300).join(" ");
    const sim = estimatedSimilarity(minhashSignature(first), minhashSignature(second));
    assert.ok(sim > 0.2 && sim < 0.5, `similarity ${sim}`);
    const index = new NearDuplicateIndex();
    assert.equal(index.add("1", first), true);
    assert.equal(index.add("2", second), true);
  });

  it("signatures round-trip through strings, rebuild an index, and removal frees the text", () => {
    const sig = minhashSignature(base);
    const encoded = encodeSignature(sig);
    assert.equal(typeof encoded, "string");
    assert.deepEqual(decodeSignature(encoded), sig);
    assert.throws(() => decodeSignature("bm9wZQ=="), /signature/);
    const rebuilt = new NearDuplicateIndex();
    rebuilt.insert("a", decodeSignature(encoded));
    assert.equal(rebuilt.findDuplicate(minhashSignature(base)), "a");
    assert.equal(rebuilt.add("b", base), false);
    assert.equal(rebuilt.remove("a"), true);
    assert.equal(rebuilt.remove("a"), false);
    assert.equal(rebuilt.add("b", base), true);
  });

  it("the threshold is configurable and short or empty texts work", () => {
    const strict = new NearDuplicateIndex(1);
    assert.equal(strict.add("a", base), true);
    assert.equal(strict.add("b", base.replace("nine", "ten")), true, "threshold 1 keeps near duplicates");
    const index = new NearDuplicateIndex();
    assert.equal(index.add("x", "hi"), true);
    assert.equal(index.add("y", "HI!"), false);
    assert.equal(index.add("z", ""), true);
  });
});

describe("store deduplicator on a shared index (duplicateCandidates)", () => {
  it("sees committed chunks by band key, keeps a file committed during a lookup reserved, and forgets committed files afterwards", async () => {
    // The shared index: committed signatures; a lookup answers from what was committed when it started.
    const committed: (StoredSignature & { bands: number[] })[] = [];
    let gate: Promise<void> | undefined;
    const calls: number[][] = [];
    const source = {
      async duplicateCandidates(_store: string, bands: readonly number[], except: string): Promise<StoredSignature[]> {
        calls.push([...bands]);
        const keys = new Set(bands);
        const snapshot = committed.filter((c) => c.fileId !== except && c.bands.some((b) => keys.has(b)));
        await gate;
        return snapshot.map(({ id, fileId, signature }) => ({ id, fileId, signature }));
      },
    };
    const commit = (fileId: string, signatures: string[]) => signatures.forEach((s, i) => committed.push({ id: `${fileId}:${i}`, fileId, signature: s, bands: lshBands(decodeSignature(s)) }));
    const dedupe = new StoreDeduplicator(source);
    const a = await dedupe.filter("vs", "file_a", [{ text: base }]);
    assert.equal(a.kept.length, 1);
    assert.deepEqual(calls[0], lshBands(minhashSignature(base)), "one lookup with the file's band keys");
    // b's lookup starts before a is committed and ends after: a's reservation must still count.
    let open!: () => void;
    gate = new Promise((resolve) => (open = resolve));
    const b = dedupe.filter("vs", "file_b", [{ text: base.replace("nine", "ten") }]);
    await new Promise((resolve) => setImmediate(resolve));
    commit("file_a", a.signatures);
    await dedupe.committedFile("vs", "file_a");
    open();
    assert.deepEqual(await b, { kept: [], signatures: [], dropped: 1, duplicateOf: ["file_a"] });
    gate = undefined;
    // Through the index now (another replica's commit looks the same).
    const c = await dedupe.filter("vs", "file_c", [{ text: base.toUpperCase() }]);
    assert.deepEqual([c.dropped, c.duplicateOf], [1, ["file_a"]]);
    // Deleted from the index (e.g. by another replica): nothing stale in memory, the text is kept.
    committed.length = 0;
    const d = await dedupe.filter("vs", "file_d", [{ text: base }]);
    assert.deepEqual([d.kept.length, d.dropped], [1, 0]);
  });
});
