/**
 * Pulling models into the store from a local HTTP server standing in for the Hugging Face Hub
 * (no network in tests): the Hub's file listing and its resolve → CDN redirect carrying the sha256
 * and size (x-linked-etag / x-linked-size), Range requests, a connection dropped mid-file, gated
 * repositories; and the CLI's progress output and one-line errors.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, beforeEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { parseModelRef, pickQuant, quantOf } from "../src/models/hub.js";
import { pullModel } from "../src/models/pull.js";
import { parseHfRef, resolveModel } from "../src/models/resolve.js";
import { ModelStore } from "../src/models/store.js";
import { tempDir } from "./helpers.js";

const CLI = fileURLToPath(new URL("../../bin/nimble.cjs", import.meta.url));

/** Runs the CLI without blocking this process (the fake Hub lives in it). */
function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
  let stdout = "", stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  return new Promise((resolve) => child.on("close", (status) => resolve({ status, stdout, stderr })));
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Repository files: generated GGUFs under Hub-like names (the split "parts" are two small GGUFs). */
const files = new Map<string, Buffer>();
let hub: Server;
let endpoint: string;
let requests: { method: string; url: string; range?: string; auth?: string }[] = [];
/** Files whose next transfer is cut after half of the body. */
const dropOnce = new Set<string>();
/** Files whose published sha256 is wrong. */
const lying = new Set<string>(["tiny-BAD.gguf"]);
/** Files whose redirect announces a size other than the file's (x-linked-size). */
const wrongSize = new Set<string>();
/** Files the CDN serves whole whatever the Range header asks (as some servers and proxies do). */
const ignoreRange = new Set<string>();

function serveHub(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url!, "http://hub");
  requests.push({ method: req.method!, url: req.url!, ...(req.headers.range ? { range: req.headers.range } : {}), ...(req.headers.authorization ? { auth: req.headers.authorization } : {}) });
  let m = /^\/api\/models\/acme\/([^/]+)\/tree\/main$/.exec(url.pathname);
  if (m) {
    if (m[1] !== "tiny-GGUF") { res.writeHead(401, { "content-type": "application/json" }).end('{"error":"Repository not found"}'); return; }
    const listing = [{ type: "file", oid: "1".repeat(40), size: 12, path: "README.md" }, { type: "directory", oid: "2".repeat(40), size: 0, path: "extra" }];
    for (const [path, body] of files) listing.push({ type: "file", oid: "3".repeat(40), size: body.length, path, lfs: { oid: lying.has(path) ? "0".repeat(64) : sha256(body), size: body.length, pointerSize: 134 } } as never);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(listing));
    return;
  }
  m = /^\/acme\/(tiny-GGUF|gated-GGUF)\/resolve\/main\/(.+)$/.exec(url.pathname);
  if (m) {
    const name = decodeURIComponent(m[2]!);
    if (m[1] === "gated-GGUF" && req.headers.authorization !== "Bearer secret") { res.writeHead(401).end(); return; }
    const body = files.get(name);
    if (!body) { res.writeHead(404).end("Entry not found"); return; }
    // As the Hub does for LFS files: a redirect to the CDN, announcing sha256 and size.
    // The CDN is another host (localhost instead of 127.0.0.1): the token must not follow the redirect.
    res.writeHead(302, { location: `${endpoint.replace("127.0.0.1", "localhost")}/cdn/${encodeURIComponent(name)}`, "x-linked-etag": `"${lying.has(name) ? "0".repeat(64) : sha256(body)}"`, "x-linked-size": String(body.length + (wrongSize.has(name) ? 7 : 0)), etag: '"abc"' }).end();
    return;
  }
  m = /^\/cdn\/(.+)$/.exec(url.pathname);
  const body = m ? files.get(decodeURIComponent(m[1]!)) : undefined;
  if (!m || !body) { res.writeHead(404).end(); return; }
  if (req.headers.authorization) { res.writeHead(400).end("the CDN must not receive the Hub token"); return; }
  let start = 0;
  const range = ignoreRange.has(decodeURIComponent(m[1]!)) ? null : /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
  if (range) {
    start = Number(range[1]);
    if (start >= body.length) { res.writeHead(416, { "content-range": `bytes */${body.length}` }).end(); return; }
    res.writeHead(206, { "content-range": `bytes ${start}-${body.length - 1}/${body.length}`, "content-length": body.length - start, "accept-ranges": "bytes" });
  } else {
    res.writeHead(200, { "content-length": body.length, "accept-ranges": "bytes" });
  }
  const name = decodeURIComponent(m[1]!);
  if (dropOnce.has(name)) {
    dropOnce.delete(name);
    res.write(body.subarray(start, start + Math.floor((body.length - start) / 2)), () => setImmediate(() => res.destroy()));
    return;
  }
  res.end(body.subarray(start));
}

before(async () => {
  const dir = tempDir();
  const gen = async (name: string, seed: number, shape: typeof PRESETS.tiny | typeof PRESETS.demo = PRESETS.tiny) => {
    await generateModel(join(dir, "m.gguf"), { shape, seed });
    files.set(name, readFileSync(join(dir, "m.gguf")));
  };
  await gen("tiny-Q8_0.gguf", 1, PRESETS.demo);
  await gen("tiny-F32.gguf", 2);
  await gen("tiny-BAD.gguf", 3);
  await gen("big/tiny-Q4_K_M-00001-of-00002.gguf", 4);
  await gen("big/tiny-Q4_K_M-00002-of-00002.gguf", 5);
  await gen("mmproj-tiny-Q4_K_M.gguf", 6);
  files.set("not-a-model.gguf", Buffer.from("<html>Rate limited</html>"));
  hub = createServer(serveHub);
  await new Promise<void>((r) => hub.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
});
after(() => hub.close());
beforeEach(() => { requests = []; });

const env = () => ({ HF_ENDPOINT: endpoint, HF_TOKEN: "" });
const downloads = () => requests.filter((r) => r.url.startsWith("/cdn/"));

describe("model references", () => {
  it("parses hf: files and quantization tags, URLs and paths", () => {
    assert.deepEqual(parseModelRef("hf:acme/tiny-GGUF/sub/dir/m.gguf"), { kind: "hf-file", owner: "acme", repo: "tiny-GGUF", file: "sub/dir/m.gguf" });
    assert.deepEqual(parseModelRef("hf:acme/Qwen2.5-0.5B-GGUF:Q4_K_M"), { kind: "hf-quant", owner: "acme", repo: "Qwen2.5-0.5B-GGUF", quant: "Q4_K_M" });
    assert.deepEqual(parseModelRef("hf:acme/tiny-GGUF"), { kind: "hf-quant", owner: "acme", repo: "tiny-GGUF", quant: undefined });
    assert.deepEqual(parseModelRef("https://huggingface.co/a/b/blob/main/m.gguf"), { kind: "url", url: "https://huggingface.co/a/b/resolve/main/m.gguf" });
    assert.deepEqual(parseModelRef("./m.gguf"), { kind: "path", path: "./m.gguf" });
    assert.deepEqual(parseHfRef("hf:acme/tiny-GGUF/m.gguf"), { owner: "acme", repo: "tiny-GGUF", file: "m.gguf" });
    for (const bad of ["hf:acme/m.gguf", "hf:just-a-name", "hf:acme/tiny/../../etc/x.gguf"]) assert.throws(() => parseModelRef(bad), /hf:owner\/repo\/file\.gguf/, bad);
  });

  it("picks the file of a quantization: whole tag, any case, first part of a split file, projectors skipped", () => {
    const listing = ["m-IQ4_XS.gguf", "m-Q4_K_M.gguf", "m-Q4_K.gguf", "mmproj-m-Q8_0.gguf", "Q8_0/m-Q8_0-00002-of-00002.gguf", "Q8_0/m-Q8_0-00001-of-00002.gguf"].map((path) => ({ path }));
    const pick = (q: string | undefined) => pickQuant(listing, q, "acme/m").map((f) => f.path);
    assert.deepEqual(pick("q4_k_m"), ["m-Q4_K_M.gguf"]);
    assert.deepEqual(pick("Q4_K"), ["m-Q4_K.gguf"]);
    assert.deepEqual(pick("Q8_0"), ["Q8_0/m-Q8_0-00001-of-00002.gguf", "Q8_0/m-Q8_0-00002-of-00002.gguf"]);
    assert.deepEqual(pick(undefined), ["m-Q4_K_M.gguf"]);
    assert.throws(() => pick("Q4_XS"), /no GGUF file for quantization "Q4_XS" in acme\/m; available: IQ4_XS, Q4_K, Q4_K_M, Q8_0/);
    assert.equal(quantOf("x/Llama-3.2-1B-Instruct-UD-Q4_K_XL.gguf"), "Q4_K_XL");
  });
});

describe("nimble pull", () => {
  it("downloads an hf: file with a progress bar (bytes, rate, ETA), checks the published sha256, records it in the store", async () => {
    const home = tempDir();
    const r = await cli(["pull", "hf:acme/tiny-GGUF/tiny-Q8_0.gguf", "--home", home], env());
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /downloading tiny-Q8_0\.gguf: 100% \d+(\.\d)? [KM]?B \/ \d+(\.\d)? [KM]?B, \d+(\.\d)? [KM]?B\/s, ETA \d+s/);
    assert.match(r.stdout, /^pulled: tiny-Q8_0 \(/);
    const path = join(home, "models", "hf", "acme", "tiny-GGUF", "tiny-Q8_0.gguf");
    assert.ok(readFileSync(path).equals(files.get("tiny-Q8_0.gguf")!));
    const [entry] = await new ModelStore(home).read();
    assert.equal(entry!.source, "hf:acme/tiny-GGUF/tiny-Q8_0.gguf");
    assert.equal(entry!.files[0]!.sha256, sha256(files.get("tiny-Q8_0.gguf")!));
    assert.equal(downloads().length, 1);

    requests = [];
    const again = await cli(["pull", "hf:acme/tiny-GGUF/tiny-Q8_0.gguf", "--home", home], env());
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /^already present: tiny-Q8_0/);
    assert.deepEqual(requests, [], "a file already in the store is not downloaded again");
  });

  it("resumes with a Range request when the connection drops mid-file", async () => {
    const home = tempDir();
    dropOnce.add("tiny-Q8_0.gguf");
    const notices: string[] = [];
    const pulled = await pullModel("hf:acme/tiny-GGUF/tiny-Q8_0.gguf", { home, env: env(), retryDelayMs: 0, onNotice: (m) => notices.push(m) });
    assert.ok(readFileSync(pulled.path).equals(files.get("tiny-Q8_0.gguf")!));
    const gets = downloads();
    assert.equal(gets.length, 2);
    assert.equal(gets[0]!.range, undefined);
    const offset = Number(/^bytes=(\d+)-$/.exec(gets[1]!.range ?? "")?.[1]);
    assert.ok(offset > 0 && offset <= files.get("tiny-Q8_0.gguf")!.length / 2, `the second request asks for the rest only (${gets[1]!.range})`);
    assert.ok(notices.some((n) => /interrupted.*resuming/.test(n)) && notices.some((n) => n.includes(`resuming tiny-Q8_0.gguf at ${offset} bytes`)), notices.join("\n"));
  });

  it("starts again from byte 0 when the server ignores the Range header (200 with the whole file)", async () => {
    const home = tempDir();
    dropOnce.add("tiny-F32.gguf");
    ignoreRange.add("tiny-F32.gguf");
    const notices: string[] = [];
    try {
      const pulled = await pullModel("hf:acme/tiny-GGUF/tiny-F32.gguf", { home, env: env(), retryDelayMs: 0, onNotice: (m) => notices.push(m) });
      assert.ok(readFileSync(pulled.path).equals(files.get("tiny-F32.gguf")!), "the file is whole, not the first half twice");
    } finally {
      ignoreRange.delete("tiny-F32.gguf");
    }
    const gets = downloads();
    assert.equal(gets.length, 2);
    assert.match(gets[1]!.range ?? "", /^bytes=[1-9]\d*-$/, "it did ask for the rest");
    assert.ok(notices.some((n) => /cannot resume tiny-F32\.gguf; downloading it again from the start/.test(n)), notices.join("\n"));
  });

  it("refuses a file whose size differs from the announced one, leaving no file", async () => {
    const home = tempDir();
    wrongSize.add("tiny-F32.gguf");
    try {
      await assert.rejects(pullModel("hf:acme/tiny-GGUF/tiny-F32.gguf", { home, env: env(), retryDelayMs: 0 }), /size mismatch for tiny-F32\.gguf/);
    } finally {
      wrongSize.delete("tiny-F32.gguf");
    }
    const dir = join(home, "models", "hf", "acme", "tiny-GGUF");
    assert.deepEqual(existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".gguf")) : [], [], "no complete file in the store");
    assert.deepEqual(await new ModelStore(home).read(), []);
  });

  it("keeps an interrupted download for the next run, which resumes it (the partial file is never served)", async () => {
    // The CLI retries in the same run.
    const home = tempDir();
    dropOnce.add("tiny-F32.gguf");
    const r = await cli(["pull", "hf:acme/tiny-GGUF/tiny-F32.gguf", "--home", home], env());
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /interrupted .*; resuming\n[^]*resuming tiny-F32\.gguf at \d+ bytes/);
    assert.ok(readFileSync(join(home, "models", "hf", "acme", "tiny-GGUF", "tiny-F32.gguf")).equals(files.get("tiny-F32.gguf")!));

    // Out of retries: the .part file stays, is not served, and the next run resumes it.
    const home2 = tempDir();
    const dir = join(home2, "models", "hf", "acme", "tiny-GGUF");
    dropOnce.add("tiny-F32.gguf");
    await assert.rejects(pullModel("hf:acme/tiny-GGUF/tiny-F32.gguf", { home: home2, env: env(), retries: 0 }), /interrupted .*run the same command again to resume it/);
    assert.deepEqual(readdirSync(dir).sort(), ["tiny-F32.gguf.part", "tiny-F32.gguf.part.json"]);
    await assert.rejects(resolveModel("hf:acme/tiny-GGUF/tiny-F32.gguf", { home: home2, offline: true, env: env() }), /offline mode/);
    requests = [];
    const pulled = await pullModel("hf:acme/tiny-GGUF/tiny-F32.gguf", { home: home2, env: env() });
    assert.ok(readFileSync(pulled.path).equals(files.get("tiny-F32.gguf")!));
    assert.equal(downloads().length, 1);
    assert.match(downloads()[0]!.range ?? "", /^bytes=[1-9]\d*-$/);
    assert.deepEqual(readdirSync(dir), ["tiny-F32.gguf"]);
  });

  it("refuses a file whose sha256 differs from the published one, leaving no file", async () => {
    const home = tempDir();
    const r = await cli(["pull", "hf:acme/tiny-GGUF/tiny-BAD.gguf", "--home", home], env());
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^nimble: sha256 mismatch for tiny-BAD\.gguf: expected 0{64}, got [0-9a-f]{64}; the file was deleted\n$/m);
    assert.ok(!/\n\s+at /.test(r.stderr), r.stderr);
    const dir = join(home, "models", "hf", "acme", "tiny-GGUF");
    assert.deepEqual(existsSync(dir) ? readdirSync(dir) : [], [], "nothing left in the store (a failed pull removes the folders it made)");
  });

  it("resolves a quantization tag from the repository listing, then needs no network for it", async () => {
    const home = tempDir();
    const pulled = await pullModel("hf:acme/tiny-GGUF:f32", { home, env: env() });
    assert.equal(pulled.entry.name, "tiny-F32");
    assert.equal(pulled.entry.source, "hf:acme/tiny-GGUF/tiny-F32.gguf");
    assert.deepEqual(pulled.entry.aliases, ["hf:acme/tiny-GGUF:f32"]);
    assert.ok(requests.some((r) => r.url === "/api/models/acme/tiny-GGUF/tree/main?recursive=true"));
    requests = [];
    const again = await pullModel("hf:acme/tiny-GGUF:F32", { home, env: env(), offline: true });
    assert.equal(again.downloaded, false);
    assert.deepEqual(requests, []);
  });

  it("downloads every part of a split GGUF and serves the first", async () => {
    const home = tempDir();
    const pulled = await pullModel("hf:acme/tiny-GGUF:Q4_K_M", { home, env: env() });
    assert.ok(pulled.path.endsWith(join("big", "tiny-Q4_K_M-00001-of-00002.gguf")));
    assert.deepEqual(pulled.entry.files.map((f) => f.path.split("/").pop()), ["tiny-Q4_K_M-00001-of-00002.gguf", "tiny-Q4_K_M-00002-of-00002.gguf"]);
    assert.equal(pulled.entry.name, "tiny-Q4_K_M");
    // A reference to the first part also brings the second.
    const home2 = tempDir();
    const byFile = await pullModel("hf:acme/tiny-GGUF/big/tiny-Q4_K_M-00001-of-00002.gguf", { home: home2, env: env() });
    assert.equal(byFile.entry.files.length, 2);
    assert.ok(existsSync(join(home2, "models", "hf", "acme", "tiny-GGUF", "big", "tiny-Q4_K_M-00002-of-00002.gguf")));
  });

  it("explains a missing quantization, a missing repository, a gated one and a file that is not a GGUF in one line", async () => {
    const home = tempDir();
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [["pull", "hf:acme/tiny-GGUF:Q2_K"], {}, /no GGUF file for quantization "Q2_K" in acme\/tiny-GGUF; available: F32, Q4_K_M, Q8_0, not-a-model\.gguf, tiny-BAD\.gguf$/m],
      [["pull", "hf:acme/nothing-GGUF:Q2_K"], {}, /repository acme\/nothing-GGUF was not found .*set HF_TOKEN/],
      [["pull", "hf:acme/gated-GGUF/tiny-F32.gguf"], {}, /access to .* was refused \(HTTP 401\); for gated repositories set HF_TOKEN/],
      [["pull", "hf:acme/tiny-GGUF/missing.gguf"], {}, /was not found \(HTTP 404\)/],
      [["pull", "hf:acme/tiny-GGUF/not-a-model.gguf"], {}, /not-a-model\.gguf is not a GGUF file/],
      [["pull", "hf:acme/tiny-GGUF/tiny-F32.gguf"], { NIMBLE_OFFLINE: "1" }, /offline mode \(NIMBLE_OFFLINE\): hf:acme\/tiny-GGUF\/tiny-F32\.gguf is not in the model store/],
      [["pull", "hf:acme/tiny-GGUF:F32"], { NIM_DISABLE_MODEL_DOWNLOAD: "true" }, /offline mode/],
      [["pull", "/does/not/exist.gguf"], {}, /model file not found/],
    ];
    for (const [args, extra, message] of cases) {
      requests = [];
      const r = await cli([...args, "--home", home], { ...env(), ...extra });
      assert.equal(r.status, 1, args.join(" "));
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").filter((l) => l.startsWith("nimble:")).length, 1, r.stderr);
      assert.ok(!/\n\s+at /.test(r.stderr), `stack trace for ${args.join(" ")}:\n${r.stderr}`);
      if (extra.NIMBLE_OFFLINE || extra.NIM_DISABLE_MODEL_DOWNLOAD) assert.deepEqual(requests, [], "offline mode makes no request");
    }
    requests = [];
    const withToken = await pullModel("hf:acme/gated-GGUF/tiny-F32.gguf", { home, env: { ...env(), HF_TOKEN: "secret" } });
    assert.ok(readFileSync(withToken.path).equals(files.get("tiny-F32.gguf")!));
    assert.equal(requests[0]!.auth, "Bearer secret");
    assert.equal(downloads()[0]!.auth, undefined, "the token is not sent on to the CDN's host");
  });

  it("pulls a URL and a local file into the store", async () => {
    const home = tempDir();
    const byUrl = await pullModel(`${endpoint}/cdn/tiny-F32.gguf`, { home, env: env() });
    assert.ok(byUrl.path.startsWith(join(home, "models", "url", "127.0.0.1_")));
    assert.equal(byUrl.entry.source, `${endpoint}/cdn/tiny-F32.gguf`);
    const local = join(tempDir(), "mine.gguf");
    await generateModel(local, { shape: PRESETS.tiny, seed: 9 });
    const r = await cli(["pull", local, "--home", home], {});
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /copying mine\.gguf: 100%/);
    assert.ok(readFileSync(join(home, "models", "local", "mine.gguf")).equals(readFileSync(local)));
  });

  it("serve --model shares the store: what pull fetched is used as is and marked as used", async () => {
    const home = tempDir();
    await pullModel("hf:acme/tiny-GGUF:F32", { home, env: env() });
    requests = [];
    const resolved = await resolveModel("hf:acme/tiny-GGUF:F32", { home, env: env(), offline: true });
    assert.equal(resolved.name, "tiny-F32");
    assert.deepEqual(requests, []);
    const [entry] = await new ModelStore(home).read();
    assert.ok(entry!.lastUsed && Date.parse(entry!.lastUsed) > 0);
  });
});
