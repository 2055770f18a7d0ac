/** Unit tests: UTF-8 safe incremental detokenization and stop-string matching. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IncrementalDetokenizer, StopMatcher } from "../src/engine/text-stream.js";

/** A byte-level "tokenizer": token n is byte n, decoded like llama.cpp does (invalid bytes → U+FFFD). */
const decodeBytes = (tokens: number[]) => Buffer.from(tokens).toString("utf8");

function streamBytes(bytes: number[]): string[] {
  const d = new IncrementalDetokenizer(decodeBytes);
  const pieces = bytes.map((b) => d.push(b));
  pieces.push(d.flush());
  return pieces;
}

describe("IncrementalDetokenizer", () => {
  it("holds back a multi-byte character until it is complete", () => {
    const euro = [...Buffer.from("a€b")];
    assert.deepEqual(streamBytes(euro), ["a", "", "", "€", "b", ""]);
  });

  it("streams exactly the text of the whole sequence, even for invalid UTF-8", () => {
    const cases = [
      [0xe2, 0x61],
      [0x80, 0x80, 0x61],
      [0xf0, 0x9f, 0x98, 0x61, 0xf0, 0x9f, 0x98, 0x80],
      [0x61, 0xe2, 0x82],
      [0xc3, 0xa9, 0xff, 0xe4, 0xb8, 0xad, 0xed, 0xa0, 0x80],
    ];
    for (const bytes of cases) {
      const pieces = streamBytes(bytes);
      assert.equal(pieces.join(""), decodeBytes(bytes), `bytes ${bytes.map((b) => b.toString(16))}`);
    }
    let seed = 7;
    for (let trial = 0; trial < 200; trial++) {
      const bytes = Array.from({ length: 40 }, () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % 256));
      assert.equal(streamBytes(bytes).join(""), decodeBytes(bytes));
    }
  });
});

describe("StopMatcher", () => {
  const run = (stops: string[], pieces: string[]) => {
    const m = new StopMatcher(stops);
    const out = pieces.map((p) => m.push(p));
    out.push(m.flush());
    return { out, stopped: m.stopped };
  };

  it("cuts at a stop string split across pieces and holds back possible beginnings", () => {
    const { out, stopped } = run(["END"], ["abc E", "N", "D more"]);
    assert.deepEqual(out, ["abc ", "", "", ""]);
    assert.ok(stopped);
  });

  it("releases held text that turned out not to be a stop string", () => {
    const { out, stopped } = run(["END"], ["abc EN", "x"]);
    assert.equal(out.join(""), "abc ENx");
    assert.ok(!stopped);
  });

  it("uses the earliest of several stop strings, and says which", () => {
    assert.equal(run(["xyz", "b"], ["aaxyzb"]).out.join(""), "aa");
    const m = new StopMatcher(["b", "xyz"]);
    m.push("aaxyzb");
    assert.equal(m.matched, "xyz");
    assert.equal(run(["\n\n", "###"], ["line\n", "\nnext"]).out.join(""), "line");
  });

  it("prefers the earliest position over the order of the list; at one position, the first listed", () => {
    const m = new StopMatcher(["a", "xyz"]);
    assert.equal(m.push("axyz"), "");
    assert.equal(m.matched, "a");
    const same = new StopMatcher(["ab", "a"]);
    assert.equal(same.push("cab"), "c");
    assert.equal(same.matched, "ab");
  });

  it("releases nothing more once stopped, and flushes held text only once", () => {
    const m = new StopMatcher(["END"]);
    assert.equal(m.push("x END y"), "x ");
    assert.equal(m.push("more"), "");
    assert.equal(m.flush(), "");
    const held = new StopMatcher(["END"]);
    assert.equal(held.push("abc EN"), "abc ");
    assert.equal(held.flush(), "EN");
    assert.equal(held.flush(), "");
  });

  it("passes text through without stop strings", () => {
    assert.deepEqual(run([], ["a", "b"]).out, ["a", "b", ""]);
  });
});
