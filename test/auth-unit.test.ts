/**
 * Authentication and scopes without an engine: which route needs what (ACCESS_RULES on the
 * registered pattern), where a key is read from, the key hash and its comparison, and the hook on
 * a bare Fastify app (light-my-request injection): 401s with WWW-Authenticate, 403 for the admin
 * scope, the identity a request carries.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import Fastify, { type FastifyRequest } from "fastify";
import { forbidden, presentedKey, registerAuth, routeAccess, unauthorized } from "../src/api/security/auth.js";
import { errorHandler } from "../src/api/errors.js";
import { findKey, generateKey, hashKey, KEY_PREFIX, KeyRing, type KeyEntry } from "../src/keys/store.js";

describe("routeAccess", () => {
  it("decides by the registered pattern, first rule first, inference by default", () => {
    const cases: Array<[string | undefined, string]> = [
      [undefined, "inference"],
      ["/v1/health/live", "public"], ["/v1/health/ready", "public"], ["/v1/health/", "public"], ["/v1/health", "inference"],
      ["/", "public"], ["", "inference"], ["/index.html", "inference"],
      ["/assets/*", "public"], ["/assets/app.js", "public"], ["/assets", "inference"],
      ["/v1/admin/models/:id", "admin"], ["/v1/admin/", "admin"], ["/v1/admin", "inference"],
      ["/v1/metrics", "admin"], ["/v1/metrics/x", "inference"], ["/v1/metadata", "admin"], ["/v1/metadata/", "inference"],
      ["/v1/chat/completions", "inference"], ["/v1/models", "inference"], ["/x/v1/admin/", "inference"],
    ];
    for (const [pattern, access] of cases) assert.equal(routeAccess(pattern), access, String(pattern));
  });
});

describe("presentedKey", () => {
  const req = (headers: Record<string, unknown>) => ({ headers }) as unknown as FastifyRequest;
  it("reads Authorization: Bearer, else x-api-key", () => {
    const cases: Array<[Record<string, unknown>, string | undefined]> = [
      [{}, undefined],
      [{ authorization: "Bearer abc" }, "abc"],
      [{ authorization: "bearer abc" }, "abc"],
      [{ authorization: "BEARER \t abc \t" }, "abc"],
      [{ authorization: "Bearer\tabc" }, "abc"],
      [{ authorization: "Bearerabc" }, undefined],
      [{ authorization: "Bearer " }, undefined],
      [{ authorization: "Bearer a b" }, undefined],
      [{ authorization: "x Bearer abc" }, undefined],
      [{ authorization: "Basic abc" }, undefined],
      [{ authorization: "Bearer abc\n" }, undefined],
      [{ "x-api-key": "k1" }, "k1"],
      [{ "x-api-key": " k1 " }, "k1"],
      [{ "x-api-key": "" }, undefined],
      [{ "x-api-key": ["a", "b"] }, undefined],
      [{ authorization: "Bearer abc", "x-api-key": "k1" }, "abc"],
      [{ authorization: "Basic abc", "x-api-key": "k1" }, "k1"],
      [{ authorization: ["Bearer abc"], "x-api-key": "k1" }, "k1"],
    ];
    for (const [headers, key] of cases) assert.equal(presentedKey(req(headers)), key, JSON.stringify(headers));
  });
});

describe("errors", () => {
  it("401 with WWW-Authenticate, 403 for the scope", () => {
    const u = unauthorized("no");
    assert.deepEqual([u.status, u.message, u.type, u.param, u.code, u.headers], [401, "no", "invalid_request_error", null, "invalid_api_key", { "www-authenticate": 'Bearer realm="nimble"' }]);
    const f = forbidden("admin only");
    assert.deepEqual([f.status, f.message, f.type, f.param, f.code, f.headers], [403, "admin only", "invalid_request_error", null, "insufficient_scope", {}]);
  });
});

describe("key hashes", () => {
  it("hashes a key with SHA-256 over its UTF-8 bytes", () => {
    assert.equal(hashKey("abc").toString("hex"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert.equal(hashKey("ключ").toString("hex"), createHash("sha256").update(Buffer.from("ключ", "utf8")).digest("hex"));
  });

  it("generates distinct nmb- keys of 256 random bits", () => {
    const a = generateKey();
    const b = generateKey();
    assert.match(a, /^nmb-[A-Za-z0-9_-]{43}$/);
    assert.ok(a.startsWith(KEY_PREFIX));
    assert.notEqual(a, b);
  });

  it("finds the first entry whose hash matches, and nothing for other keys", () => {
    const entry = (name: string, key: string): KeyEntry => ({ name, scope: "inference", hash: hashKey(key), limits: {} });
    const entries = [entry("one", "k1"), entry("two", "k2"), entry("two-again", "k2"), entry("three", "k3")];
    assert.equal(findKey(entries, "k1")?.name, "one");
    assert.equal(findKey(entries, "k2")?.name, "two");
    assert.equal(findKey(entries, "k3")?.name, "three");
    assert.equal(findKey(entries, "k4"), undefined);
    assert.equal(findKey(entries, "K1"), undefined);
    assert.equal(findKey([], "k1"), undefined);
  });
});

describe("registerAuth on a bare Fastify app", () => {
  const ADMIN = "nmb-admin-key";
  const INFER = "nmb-inference-key";
  const GUARDED = "nmb-guarded-key";
  function app(entries: KeyEntry[]) {
    const fastify = Fastify();
    fastify.setErrorHandler(errorHandler);
    registerAuth(fastify, new KeyRing(entries));
    for (const url of ["/v1/health/live", "/", "/v1/admin/models", "/v1/metrics", "/v1/chat/completions"]) {
      fastify.get(url, async (request) => ({ key: request.apiKey }));
    }
    return fastify;
  }
  const keyed = () => app([
    { name: "adm", scope: "admin", hash: hashKey(ADMIN), limits: {} },
    { name: "inf", scope: "inference", hash: hashKey(INFER), limits: { rpm: 3 } },
    { name: "grd", scope: "inference", hash: hashKey(GUARDED), limits: {}, guardrails: "strict" },
  ]);

  it("lets everything through without keys", async () => {
    const fastify = app([]);
    for (const url of ["/v1/admin/models", "/v1/chat/completions", "/"]) {
      const res = await fastify.inject({ url });
      assert.equal(res.statusCode, 200, url);
      assert.deepEqual(res.json(), { key: null });
    }
    await fastify.close();
  });

  it("refuses a missing or wrong key with 401 and WWW-Authenticate", async () => {
    const fastify = keyed();
    const missing = await fastify.inject({ url: "/v1/chat/completions" });
    assert.equal(missing.statusCode, 401);
    assert.equal(missing.headers["www-authenticate"], 'Bearer realm="nimble"');
    assert.deepEqual(missing.json(), { error: { message: "This server requires an API key: send it as 'Authorization: Bearer <key>' (or in an 'x-api-key' header).", type: "invalid_request_error", param: null, code: "invalid_api_key" } });
    const wrong = await fastify.inject({ url: "/v1/chat/completions", headers: { authorization: "Bearer nmb-wrong" } });
    assert.equal(wrong.statusCode, 401);
    assert.equal(wrong.headers["www-authenticate"], 'Bearer realm="nimble"');
    assert.equal(wrong.json().error.message, "Incorrect API key provided.");
    const unknownRoute = await fastify.inject({ url: "/v1/not-a-route" });
    assert.equal(unknownRoute.statusCode, 401, "a route no rule names needs a key");
    const unknownWithKey = await fastify.inject({ url: "/v1/not-a-route", headers: { "x-api-key": INFER } });
    assert.equal(unknownWithKey.statusCode, 404);
    await fastify.close();
  });

  it("serves public routes without a key, and without an identity", async () => {
    const fastify = keyed();
    for (const url of ["/v1/health/live", "/"]) {
      for (const headers of [{}, { authorization: `Bearer ${ADMIN}` }, { authorization: "Bearer nmb-wrong" }]) {
        const res = await fastify.inject({ url, headers });
        assert.equal(res.statusCode, 200, url);
        assert.deepEqual(res.json(), { key: null });
      }
    }
    await fastify.close();
  });

  it("needs the admin scope on admin routes, whatever the URL's spelling", async () => {
    const fastify = keyed();
    for (const url of ["/v1/admin/models", "/v1/metrics", "/v1/%61dmin/models"]) {
      const res = await fastify.inject({ url, headers: { authorization: `Bearer ${INFER}` } });
      assert.equal(res.statusCode, 403, url);
      assert.deepEqual(res.json().error, { message: "This route needs an API key with the admin scope; key 'inf' has the inference scope.", type: "invalid_request_error", param: null, code: "insufficient_scope" });
      const admin = await fastify.inject({ url, headers: { "x-api-key": ADMIN } });
      assert.equal(admin.statusCode, 200, url);
      assert.deepEqual(admin.json(), { key: { name: "adm", scope: "admin", limits: {}, hash: hashKey(ADMIN).toString("hex") } });
    }
    await fastify.close();
  });

  it("gives inference routes the key's identity: name, scope, limits, hash, guardrails", async () => {
    const fastify = keyed();
    const inf = await fastify.inject({ url: "/v1/chat/completions", headers: { authorization: `Bearer ${INFER}` } });
    assert.equal(inf.statusCode, 200);
    assert.deepEqual(inf.json(), { key: { name: "inf", scope: "inference", limits: { rpm: 3 }, hash: hashKey(INFER).toString("hex") } });
    const grd = await fastify.inject({ url: "/v1/chat/completions", headers: { "x-api-key": GUARDED } });
    assert.deepEqual(grd.json(), { key: { name: "grd", scope: "inference", limits: {}, hash: hashKey(GUARDED).toString("hex"), guardrails: "strict" } });
    const admin = await fastify.inject({ url: "/v1/chat/completions", headers: { authorization: `bearer ${ADMIN}` } });
    assert.equal(admin.json().key.name, "adm", "an admin key may call inference routes");
    await fastify.close();
  });
});
