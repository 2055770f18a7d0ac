/**
 * What every response and log line carries: request ids, security headers, CORS (off by default),
 * JSON logs without keys or prompt text (unless --log-prompts), and no stack traces or paths.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { createLogger } from "../src/api/request-log.js";
import { resolveConfig } from "../src/config.js";
import type { NimbleServer } from "../src/nimble.js";
import { NO_STRAY_BYTES, postJson, readSse, startTinyServer } from "./helpers.js";

const KEY = "log-test-key-0123456789abcdef";
const SECRET = "SECRET-PROMPT-TEXT";

function capture(): { lines: () => any[]; stream: Writable } {
  const out: string[] = [];
  const stream = new Writable({ write(chunk, _enc, done) { out.push(String(chunk)); done(); } });
  return { stream, lines: () => out.join("").split("\n").filter(Boolean).map((l) => JSON.parse(l)) };
}

/** Waits for the log line of the request with this id (it is written when the response closes). */
async function logLine(lines: () => any[], reqId: string): Promise<any> {
  for (let i = 0; i < 100; i++) {
    const line = lines().find((l) => l.reqId === reqId && l.msg === "request");
    if (line) return line;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no log line for ${reqId}`);
}

const auth = { "content-type": "application/json", authorization: `Bearer ${KEY}` };

describe("requests, logs and headers", () => {
  let server: NimbleServer;
  const log = capture();
  before(async () => {
    server = await startTinyServer({ apiKey: [KEY], corsAllowOrigins: ["https://app.example"], logger: createLogger("info", log.stream) });
  });
  after(async () => server.close());

  it("returns the client's x-request-id, or a new one, on every response", async () => {
    const given = await postJson(`${server.url}/v1/chat/completions`, { messages: [{ role: "user", content: "hi" }], max_tokens: 2 }, { headers: { ...auth, "x-request-id": "client-id-42" } });
    assert.equal(given.headers.get("x-request-id"), "client-id-42");
    const generated = await fetch(`${server.url}/v1/models`, { headers: { ...auth, "x-request-id": "bad id with spaces" } });
    assert.match(generated.headers.get("x-request-id")!, /^[0-9a-f-]{36}$/);
    const unauthorized = await fetch(`${server.url}/v1/models`);
    assert.equal(unauthorized.status, 401);
    assert.equal(unauthorized.headers.get("www-authenticate"), 'Bearer realm="nimble"');
    assert.match(unauthorized.headers.get("x-request-id")!, /^[0-9a-f-]{36}$/);
    const sse = await fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers: { ...auth, "x-request-id": "stream-1" }, body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], max_tokens: 2, stream: true }) });
    assert.equal(sse.headers.get("x-request-id"), "stream-1");
    assert.equal(sse.headers.get("x-content-type-options"), "nosniff");
    await readSse(sse);
  });

  it("logs one JSON line per request with its id, route, status and key name, never the key or the prompt", async () => {
    // Greedy, 12 tokens, no stray bytes: a completion long enough that finding it in a log line would mean it was logged.
    const res = await postJson(`${server.url}/v1/chat/completions`, { messages: [{ role: "user", content: SECRET }], max_tokens: 12, ignore_eos: true, temperature: 0, logit_bias: NO_STRAY_BYTES }, { headers: { ...auth, "x-request-id": "log-1" } });
    assert.equal(res.status, 200);
    const completion = res.json.choices[0].message.content as string;
    assert.ok(completion.length >= 12, JSON.stringify(completion));
    const line = await logLine(log.lines, "log-1");
    assert.deepEqual([line.level, line.service, line.method, line.route, line.status, line.key], [30, "nimble", "POST", "/v1/chat/completions", 200, "api-key-1"]);
    assert.equal(typeof line.ms, "number");
    await fetch(`${server.url}/v1/models`, { headers: { authorization: `Bearer wrong-${KEY}`, "x-request-id": "log-2" } });
    assert.equal((await logLine(log.lines, "log-2")).status, 401);
    const all = log.lines().map((l) => JSON.stringify(l)).join("\n");
    assert.ok(!all.includes(KEY), "no key in the logs");
    assert.ok(!all.includes(SECRET), "no prompt in the logs");
    assert.ok(!all.includes(JSON.stringify(completion).slice(1, -1)), "no completion in the logs");
  });

  it("sends security headers, and CORS headers only to allowed origins; answers preflights without a key", async () => {
    const res = await fetch(`${server.url}/v1/models`, { headers: { ...auth, origin: "https://app.example" } });
    assert.equal(res.headers.get("access-control-allow-origin"), "https://app.example");
    assert.match(res.headers.get("access-control-expose-headers")!, /x-ratelimit-remaining-requests/);
    assert.equal(res.headers.get("vary"), "Origin");
    for (const [name, value] of [["x-content-type-options", "nosniff"], ["x-frame-options", "DENY"], ["referrer-policy", "no-referrer"], ["cache-control", "no-store"]]) {
      assert.equal(res.headers.get(name!), value, name);
    }
    assert.match(res.headers.get("content-security-policy")!, /default-src 'none'/);
    assert.equal(res.headers.get("strict-transport-security"), null, "HSTS only over TLS");
    const other = await fetch(`${server.url}/v1/models`, { headers: { ...auth, origin: "https://evil.example" } });
    assert.equal(other.headers.get("access-control-allow-origin"), null);
    const preflight = await fetch(`${server.url}/v1/chat/completions`, { method: "OPTIONS", headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "https://app.example");
    assert.match(preflight.headers.get("access-control-allow-methods")!, /POST/);
    assert.equal(preflight.headers.get("access-control-allow-headers"), "authorization, content-type");
    const refused = await fetch(`${server.url}/v1/chat/completions`, { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
    assert.equal(refused.status, 401, "no preflight answer for other origins");
    assert.equal(refused.headers.get("access-control-allow-origin"), null);
  });

  it("never answers with a stack trace or a path of the server", async () => {
    const bad = [
      await postJson(`${server.url}/v1/chat/completions`, "{not json", { headers: auth }),
      await postJson(`${server.url}/v1/chat/completions`, "x", { headers: { ...auth, "content-type": "text/plain" } }),
      await postJson(`${server.url}/v1/chat/completions`, { messages: [{ role: "user", content: "x" }, { role: "user", content: { deep: [1] } }] }, { headers: auth }),
      await postJson(`${server.url}/v1/completions`, { prompt: "x", guided_grammar: "root ::= (" }, { headers: auth }),
      await postJson(`${server.url}/tokenize`, '{"prompt": "a", "__proto__": {"x": 1}}', { headers: auth }),
      await postJson(`${server.url}/nope/../../etc/passwd`, {}, { headers: auth }),
    ];
    const metadata = await (await fetch(`${server.url}/v1/metadata`, { headers: auth })).text();
    for (const text of [...bad.map((b) => JSON.stringify(b.json)), metadata]) {
      assert.ok(!/\bat .+:\d+:\d+|node_modules|\/tmp\/|\/work\/|\/home\/|\.ts:\d|\.js:\d/.test(text), text.slice(0, 500));
    }
    for (const b of bad) assert.ok(b.status >= 400 && b.status < 500 && typeof b.json.error.message === "string", JSON.stringify(b.json));
    assert.match(JSON.parse(metadata).modelInfo[0].file, /^tiny\.gguf$/);
  });
});

describe("logs with --log-prompts, and CORS off by default", () => {
  it("puts request bodies and completions in the log lines only when asked", async () => {
    const log = capture();
    const server = await startTinyServer({ logPrompts: true, logger: createLogger("info", log.stream) });
    try {
      const res = await postJson(`${server.url}/v1/chat/completions`, { messages: [{ role: "user", content: SECRET }], max_tokens: 3 }, { headers: { "content-type": "application/json", "x-request-id": "p-1", origin: "https://app.example" } });
      assert.equal(res.headers.get("access-control-allow-origin"), null, "CORS is off unless configured");
      const line = await logLine(log.lines, "p-1");
      assert.equal(line.body.messages[0].content, SECRET);
      assert.equal(line.response.choices[0].message.content, res.json.choices[0].message.content);
      assert.equal(line.key, null);
      const preflight = await fetch(`${server.url}/v1/chat/completions`, { method: "OPTIONS", headers: { origin: "https://app.example", "access-control-request-method": "POST" } });
      assert.equal(preflight.status, 404);
    } finally {
      await server.close();
    }
    assert.deepEqual(resolveConfig({}, { NIM_CORS_ALLOW_ORIGINS: "https://a.example, https://b.example" }).corsAllowOrigins, ["https://a.example", "https://b.example"]);
    assert.deepEqual(resolveConfig({}, { NIMBLE_LOG_PROMPTS: "true" }).logPrompts, true);
  });
});
