/**
 * Authentication and scopes on a real server: every registered route (enumerated from Fastify, so a
 * new route is covered without editing this file) needs a key except /v1/health/*, admin routes
 * need the admin scope; keys are stored hashed; clients send them as the SDKs do.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { routeAccess } from "../src/api/security/auth.js";
import { KeyStore, keyFilePath } from "../src/keys/store.js";
import type { NimbleServer } from "../src/nimble.js";
import { startTinyServer, tempDir } from "./helpers.js";

const CLI = fileURLToPath(new URL("../../bin/nimble.cjs", import.meta.url));
const ADMIN_FLAG_KEY = "flag-key-with-enough-entropy-0123456789";

let server: NimbleServer;
let home: string;
let inferenceKey: string;
let adminKey: string;
before(async () => {
  home = tempDir();
  const store = KeyStore.inHome(home);
  inferenceKey = store.create("app", "inference").key;
  adminKey = store.create("ops", "admin").key;
  server = await startTinyServer({ home, apiKey: [ADMIN_FLAG_KEY] });
});
after(async () => server.close());

/** A request to a route pattern (parameters filled in), with a minimal body for POSTs. */
async function call(method: string, url: string, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const path = url.replace(/:\w+/g, "x").replace(/\*/g, "x");
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...headers, ...(method === "POST" ? { "content-type": "application/json" } : {}) },
    body: method === "POST" ? "{}" : undefined,
  });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, json };
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe("authentication", () => {
  it("enumerates the server's routes, and only /v1/health/* and the playground's page and files are public", () => {
    const routes = server.routes.filter((r) => r.method !== "HEAD");
    assert.ok(routes.length >= 12, `routes: ${JSON.stringify(routes)}`);
    const publicRoutes = routes.filter((r) => routeAccess(r.url) === "public").map((r) => r.url).sort();
    assert.deepEqual(publicRoutes, ["/", "/assets/*", "/v1/health/live", "/v1/health/ready"]);
    const adminRoutes = routes.filter((r) => routeAccess(r.url) === "admin").map((r) => r.url).sort();
    assert.deepEqual(adminRoutes, [
      "/v1/admin/assistant", "/v1/admin/assistant/conversations", "/v1/admin/assistant/conversations/:id", "/v1/admin/assistant/conversations/:id/messages", "/v1/admin/assistant/conversations/:id/plans/:plan_id/:decision",
      "/v1/admin/guardrails", "/v1/admin/guardrails",
      "/v1/admin/keys", "/v1/admin/keys", "/v1/admin/keys/:name", "/v1/admin/machine", "/v1/admin/models", "/v1/admin/models/:id/load", "/v1/admin/models/:id/profiles", "/v1/admin/models/:id/unload", "/v1/admin/pull", "/v1/metadata", "/v1/metrics",
    ]);
    assert.equal(routeAccess("/v1/admin/anything/new"), "admin", "future admin routes need the admin scope");
    assert.equal(routeAccess("/v2/something-new"), "inference", "a route no rule names needs a key");
  });

  it("refuses every non-public route without a key or with a wrong one (401, error shape, no key echoed)", async () => {
    for (const { method, url } of server.routes) {
      const access = routeAccess(url);
      for (const headers of [{}, bearer("nmb-wrong"), { "x-api-key": "nmb-wrong" }, { authorization: "Basic Zm9vOmJhcg==" }] as Record<string, string>[]) {
        const res = await call(method, url, headers);
        if (access === "public") {
          // (/assets/* itself names no file: 404, but not 401.)
          assert.ok(res.status < 400 || (url.endsWith("*") && res.status === 404), `${method} ${url} is public but answered ${res.status}`);
          continue;
        }
        assert.equal(res.status, 401, `${method} ${url} with ${JSON.stringify(headers)} answered ${res.status}`);
        if (method === "HEAD") continue;
        const message: string = res.json.error.message;
        if (url.startsWith("/v1/messages")) assert.equal(res.json.error.type, "authentication_error");
        else assert.deepEqual(Object.keys(res.json.error).sort(), ["code", "message", "param", "type"]);
        assert.ok(!message.includes("nmb-wrong"), "the key is not echoed");
      }
    }
  });

  it("gives inference keys every route but the admin ones (403), and admin keys all of them", async () => {
    for (const { method, url } of server.routes) {
      const access = routeAccess(url);
      if (access === "public") continue;
      for (const [key, scope] of [[inferenceKey, "inference"], [adminKey, "admin"], [ADMIN_FLAG_KEY, "admin"]] as const) {
        const res = await call(method, url, bearer(key));
        if (access === "admin" && scope === "inference") {
          assert.equal(res.status, 403, `${method} ${url}`);
          if (method !== "HEAD") {
            assert.equal(res.json.error.code, "insufficient_scope");
            assert.match(res.json.error.message, /admin scope/);
          }
        } else {
          assert.ok(res.status !== 401 && res.status !== 403, `${method} ${url} with a ${scope} key answered ${res.status}`);
        }
      }
    }
  });

  it("accepts Authorization: Bearer (any case) and x-api-key", async () => {
    for (const headers of [bearer(inferenceKey), { authorization: `bearer ${inferenceKey}` }, { "x-api-key": inferenceKey }]) {
      assert.equal((await call("GET", "/v1/models", headers)).status, 200, JSON.stringify(Object.keys(headers)));
    }
  });

  it("decides on the matched route, not the raw URL: encoded paths and unknown routes are no way around it", async () => {
    assert.equal((await call("GET", "/v1/%6detrics", bearer(inferenceKey))).status, 403);
    assert.equal((await call("GET", "/v1/%6detrics", bearer(adminKey))).status, 200);
    assert.equal((await call("GET", "/v1/no-such-route")).status, 401, "unknown routes are not revealed without a key");
    assert.equal((await call("GET", "/v1/no-such-route", bearer(inferenceKey))).status, 404);
    assert.equal((await call("GET", "/v1/health/live?x=1")).status, 200);
  });

  it("works with the official OpenAI and Anthropic clients' apiKey", async () => {
    const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: inferenceKey, maxRetries: 0 });
    const completion = await openai.chat.completions.create({ model: "tiny", messages: [{ role: "user", content: "hi" }], max_tokens: 3 });
    assert.equal(completion.object, "chat.completion");
    const wrong = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "nmb-not-a-key", maxRetries: 0 });
    await assert.rejects(wrong.models.list(), (err: unknown) => err instanceof OpenAI.AuthenticationError && err.status === 401);
    const anthropic = new Anthropic({ baseURL: server.url, apiKey: inferenceKey, maxRetries: 0 });
    const message = await anthropic.messages.create({ model: "tiny", max_tokens: 3, messages: [{ role: "user", content: "hi" }] });
    assert.equal(message.type, "message");
    const wrongAnthropic = new Anthropic({ baseURL: server.url, apiKey: "nmb-not-a-key", maxRetries: 0 });
    await assert.rejects(wrongAnthropic.messages.create({ model: "tiny", max_tokens: 3, messages: [{ role: "user", content: "hi" }] }), (err: unknown) => err instanceof Anthropic.AuthenticationError);
  });
});

describe("key storage", () => {
  it("stores only SHA-256 hashes, in a file only its owner can read", () => {
    const path = keyFilePath(home);
    const text = readFileSync(path, "utf8");
    assert.ok(!text.includes(inferenceKey) && !text.includes(adminKey), "no key in plain text");
    assert.ok(!text.includes(inferenceKey.slice(8)), "not even most of it");
    const stored = JSON.parse(text).keys;
    assert.deepEqual(stored.map((k: any) => k.hash).sort(), [inferenceKey, adminKey].map((k) => createHash("sha256").update(k).digest("hex")).sort());
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.match(inferenceKey, /^nmb-[A-Za-z0-9_-]{43}$/);
  });

  it("creates (printing the key once), lists and removes keys from the command line; a running server follows", async () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI, "keys", ...args, "--home", home], { encoding: "utf8" });
    const created = run("create", "--name", "ci-bot", "--scope", "inference", "--rpm", "100");
    assert.equal(created.status, 0, created.stderr);
    const key = created.stdout.trim();
    assert.match(key, /^nmb-/);
    assert.match(created.stderr, /only time the key is shown/);
    assert.equal((await call("GET", "/v1/models", bearer(key))).status, 200, "a new key works at once");
    const listed = run("ls", "--json");
    assert.ok(!listed.stdout.includes(key) && !listed.stdout.includes('"hash"'));
    assert.deepEqual(JSON.parse(listed.stdout).map((k: any) => [k.name, k.scope, k.limits]), [["app", "inference", {}], ["ops", "admin", {}], ["ci-bot", "inference", { rpm: 100 }]]);
    assert.match(run("ls").stdout, /ci-bot\s+inference/);
    for (const [args, message] of [[["create", "--name", "ci-bot"], /already exists/], [["create", "--name", "bad name"], /invalid key name/], [["create", "--name", "x", "--scope", "root"], /--scope/], [["rm", "nobody"], /no key named/]] as const) {
      const r = run(...args);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, message);
    }
    assert.equal(run("rm", "ci-bot").status, 0);
    assert.equal((await call("GET", "/v1/models", bearer(key))).status, 401, "a removed key is refused at once");
  });

  it("reads keys from --api-key-file and refuses a malformed key file at startup", async () => {
    const dir = tempDir();
    const file = join(dir, "keys.txt");
    writeFileSync(file, "# team keys\nfirst-key-aaaaaaaaaaaaaaaa\n\n  second-key-bbbbbbbbbbbbbbbb  \n");
    const other = await startTinyServer({ home: dir, apiKeyFile: file });
    try {
      for (const key of ["first-key-aaaaaaaaaaaaaaaa", "second-key-bbbbbbbbbbbbbbbb"]) {
        assert.equal((await fetch(`${other.url}/v1/metrics`, { headers: bearer(key) })).status, 200);
      }
      assert.equal((await fetch(`${other.url}/v1/models`, { headers: bearer("# team keys") })).status, 401);
    } finally {
      await other.close();
    }
    writeFileSync(keyFilePath(dir), "{not json");
    await assert.rejects(startTinyServer({ home: dir }), /key file .* is not valid JSON/);
  });
});

describe("without keys", () => {
  it("leaves every route open and warns loudly when listening beyond this machine", async () => {
    const warnings: string[] = [];
    const open = await startTinyServer({ host: "0.0.0.0", onWarning: (m) => warnings.push(m) });
    try {
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /0\.0\.0\.0 WITHOUT API KEYS/);
      assert.equal((await fetch(`${open.url.replace("0.0.0.0", "127.0.0.1")}/v1/metrics`)).status, 200);
    } finally {
      await open.close();
    }
    const quiet: string[] = [];
    const local = await startTinyServer({ onWarning: (m) => quiet.push(m) });
    await local.close();
    const keyed = await startTinyServer({ host: "0.0.0.0", apiKey: ["some-key-cccccccccccccccc"], onWarning: (m) => quiet.push(m) });
    await keyed.close();
    assert.deepEqual(quiet, [], "no warning on 127.0.0.1, nor with keys");
  });
});
