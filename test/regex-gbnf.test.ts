/** guided_regex on the random tiny model: generation that fully matches the regex, and a 400 for what cannot be translated. The translation itself: regex-gbnf-unit.test.ts. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { postJson, useTinyServer } from "./helpers.js";

const tiny = useTinyServer();

describe("guided_regex", () => {
  it("makes the random model's output match the whole regex", async () => {
    const patterns = ["^(yes|no)$|^maybe", "[a-z]{2,6}@[a-z]{2,5}\\.(com|org|net)", "\\d{3}-\\d{2}-\\d{4}", "(red|green|blue) [A-Z][a-z]{1,8}!?", "v\\d\\.\\d{1,2}(-(alpha|beta))?"];
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
    const anchor = await postJson(`${tiny.url}/v1/completions`, { prompt: "x", guided_regex: "a$b" });
    assert.equal(anchor.status, 400);
    assert.equal(anchor.json.error.param, "guided_regex");
    assert.match(anchor.json.error.message, /"\$" here would need more text after the end/);
  });
});
