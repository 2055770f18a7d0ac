/** Near-duplicate detection: MinHash signatures, the 0.8 threshold, persistence of signatures, removal. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeSignature, encodeSignature, estimatedSimilarity, minhashSignature, NearDuplicateIndex } from "../src/rag/dedupe.js";

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
