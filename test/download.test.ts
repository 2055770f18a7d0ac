/** hf: model references, downloaded from a local HTTP server standing in for the Hub (no network in tests). */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseHfRef, resolveModel } from "../src/models/resolve.js";
import { tempDir, tinyModelPath } from "./helpers.js";

let hub: Server;
let endpoint: string;
let requests: string[] = [];
let model: Buffer;

before(async () => {
  model = readFileSync(await tinyModelPath());
  hub = createServer((req, res) => {
    requests.push(req.url!);
    if (req.url === "/acme/tiny-GGUF/resolve/main/tiny.gguf") {
      if (req.headers.authorization !== "Bearer secret") { res.writeHead(401).end(); return; }
      res.writeHead(200, { "content-length": model.length });
      res.end(model);
    } else if (req.url === "/acme/tiny-GGUF/resolve/main/broken.gguf") {
      res.writeHead(200, { "content-length": model.length });
      res.write(model.subarray(0, 1000));
      setTimeout(() => res.destroy(), 20);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => hub.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
});
after(() => hub.close());

describe("hf: model references", () => {
  it("parses owner, repo and file", () => {
    assert.deepEqual(parseHfRef("hf:acme/tiny-GGUF/sub/dir/m.gguf"), { owner: "acme", repo: "tiny-GGUF", file: "sub/dir/m.gguf" });
    assert.throws(() => parseHfRef("hf:acme/m.gguf"), /hf:owner\/repo\/file\.gguf/);
  });

  it("downloads once with progress, then reuses the file", async () => {
    const home = tempDir();
    const env = { HF_ENDPOINT: endpoint, HF_TOKEN: "secret" };
    const progress: number[] = [];
    requests = [];
    const resolved = await resolveModel("hf:acme/tiny-GGUF/tiny.gguf", { home, env, onDownloadProgress: (p) => progress.push(p.received) });
    assert.equal(resolved.name, "tiny");
    assert.ok(readFileSync(resolved.path).equals(model));
    assert.ok(progress.length > 0 && progress.at(-1) === model.length);
    await resolveModel("hf:acme/tiny-GGUF/tiny.gguf", { home, env });
    assert.equal(requests.length, 1, "already-present file is not downloaded again");
  });

  it("explains a refused download (gated repo without HF_TOKEN)", async () => {
    await assert.rejects(resolveModel("hf:acme/tiny-GGUF/tiny.gguf", { home: tempDir(), env: { HF_ENDPOINT: endpoint } }), /HF_TOKEN/);
  });

  it("reports 404 and leaves no file", async () => {
    const home = tempDir();
    await assert.rejects(resolveModel("hf:acme/tiny-GGUF/missing.gguf", { home, env: { HF_ENDPOINT: endpoint } }), /not found/);
  });

  it("never leaves a partial file under the final name when the connection drops", async () => {
    const home = tempDir();
    await assert.rejects(resolveModel("hf:acme/tiny-GGUF/broken.gguf", { home, env: { HF_ENDPOINT: endpoint } }), /interrupted|incomplete/);
    const dir = join(home, "models", "hf", "acme", "tiny-GGUF");
    assert.ok(!existsSync(join(dir, "broken.gguf")));
    assert.deepEqual(existsSync(dir) ? readdirSync(dir) : [], []);
  });
});
