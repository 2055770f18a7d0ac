/** guided_regex: regex → GBNF translation, and generation that fully matches the regex on the random tiny model. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { regexToGbnf } from "../src/engine/regex-gbnf.js";
import { postJson, useTinyServer } from "./helpers.js";

const tiny = useTinyServer();

describe("guided_regex", () => {
  it("translates the supported syntax", () => {
    assert.equal(regexToGbnf("^\\d{3}-[a-c]+$"), 'root ::= [0-9]{3} "-" [a-c]+');
    assert.equal(regexToGbnf("(?:yes|no)!?"), 'root ::= (("y" "e" "s" | "n" "o")) "!"?');
    assert.equal(regexToGbnf("[^\\s,^]x{2,}?"), 'root ::= [^ \\t\\n\\r\\x0C\\x0B,\\x5E] "x"{2,}');
    assert.equal(regexToGbnf("a.\\.\\(\\\\"), 'root ::= "a" [^\\n] "." "(" "\\\\"');
  });

  it("rejects what a grammar cannot express, saying what and where", () => {
    for (const [re, message] of [
      ["(a)\\1", /backreferences/],
      ["(?=a)b", /lookaround/],
      ["\\bx", /word boundaries/],
      ["a{3,1}", /wrong way round/],
      ["*a", /nothing to repeat/],
      ["(ab", /missing \)/],
      ["[ab", /missing \]/],
      ["\\q", /unknown escape/],
    ] as const) {
      assert.throws(() => regexToGbnf(re), message, re);
    }
  });

  it("makes the random model's output match the whole regex", async () => {
    const patterns = ["[a-z]{2,6}@[a-z]{2,5}\\.(com|org|net)", "\\d{3}-\\d{2}-\\d{4}", "(red|green|blue) [A-Z][a-z]{1,8}!?", "v\\d\\.\\d{1,2}(-(alpha|beta))?"];
    for (const pattern of patterns) {
      for (const seed of [1, 2]) {
        const { status, json } = await postJson(`${tiny.url}/v1/completions`, { prompt: "x", temperature: 1, seed, max_tokens: 64, guided_regex: pattern });
        assert.equal(status, 200, JSON.stringify(json));
        assert.match(json.choices[0].text, new RegExp(`^(?:${pattern})$`), `${pattern} seed ${seed}`);
        assert.equal(json.choices[0].finish_reason, "stop");
      }
    }
    const bad = await postJson(`${tiny.url}/v1/completions`, { prompt: "x", guided_regex: "(a)\\1" });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.param, "guided_regex");
    assert.match(bad.json.error.message, /backreferences/);
  });
});
