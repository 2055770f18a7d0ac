/** POST /tokenize and /detokenize on the tiny model: round trips, chat messages, bad input. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { postJson, useTinyServer } from "./helpers.js";

const tiny = useTinyServer();

describe("tokenize", () => {
  it("tokenizes a prompt and detokenizes it back", async () => {
    const text = "Hello, wörld! <|im_start|>";
    const { status, json } = await postJson(`${tiny.url}/tokenize`, { prompt: text });
    assert.equal(status, 200);
    assert.equal(json.count, json.tokens.length);
    assert.equal(json.max_model_len, tiny.server.config.ctxSize ?? 4096);
    assert.equal(json.tokens.at(-1), 510, "<|im_start|> is parsed as its special token");
    const back = await postJson(`${tiny.url}/detokenize`, { tokens: json.tokens });
    assert.equal(back.status, 200);
    assert.equal(back.json.prompt, "Hello, wörld! ");
  });

  it("accepts llama.cpp's content field", async () => {
    const a = await postJson(`${tiny.url}/tokenize`, { content: "abc def" });
    const b = await postJson(`${tiny.url}/tokenize`, { prompt: "abc def" });
    assert.deepEqual(a.json.tokens, b.json.tokens);
  });

  it("counts chat messages as the completion endpoint does", async () => {
    const messages = [{ role: "user", content: "count me" }];
    const t = await postJson(`${tiny.url}/tokenize`, { messages });
    const c = await postJson(`${tiny.url}/v1/chat/completions`, { messages, max_tokens: 1 });
    assert.equal(t.json.count, c.json.usage.prompt_tokens);
  });

  it("rejects bad input with a 400 naming the field", async () => {
    const cases: [string, unknown, string][] = [
      ["/tokenize", {}, "prompt"],
      ["/tokenize", { prompt: "a", messages: [{ role: "user", content: "b" }] }, "prompt"],
      ["/tokenize", { prompt: 3 }, "prompt"],
      ["/detokenize", { tokens: [1, -2] }, "tokens.1"],
      ["/detokenize", { tokens: [1, 100000] }, "tokens.1"],
      ["/detokenize", { tokens: "1,2" }, "tokens"],
    ];
    for (const [path, body, param] of cases) {
      const res = await postJson(`${tiny.url}${path}`, body);
      assert.equal(res.status, 400, `${path} ${JSON.stringify(body)}`);
      assert.equal(res.json.error.param, param);
    }
    assert.equal((await postJson(`${tiny.url}/tokenize`, { model: "other", prompt: "a" })).status, 404);
  });
});
