/** What a new user stumbled on: models served by their store name, clear errors for paths and non-GGUF files, no empty folders after a failed pull. */
import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { describe, it } from "node:test";
import { pullModel } from "../src/models/pull.js";
import { resolveModel } from "../src/models/resolve.js";
import { tempDir, tinyModelPath } from "./helpers.js";

describe("model references a new user tries", () => {
  it("serves a model pulled into the store by its store name", async () => {
    const home = tempDir();
    const pulled = await pullModel(await tinyModelPath(), { home });
    const resolved = await resolveModel(pulled.entry.name, { home });
    assert.equal(resolved.path, pulled.path);
  });

  it("says a missing path is missing, and names a file that is not a GGUF", async () => {
    const home = tempDir();
    await assert.rejects(resolveModel("./missing.gguf", { home }), /model file not found: .*missing\.gguf/);
    await assert.rejects(resolveModel("no-such-model", { home }), /model file not found.*no model "no-such-model" in the store/);
    const bad = join(tempDir(), "weights.bin");
    writeFileSync(bad, "PK\x03\x04 not a model");
    await assert.rejects(resolveModel(bad, { home }), (err: Error) => err.message.includes(bad) && /not a GGUF/.test(err.message));
  });

  it("leaves no empty folders behind when a pull fails", async () => {
    const http = createServer((_req, res) => { res.statusCode = 404; res.end("nope"); });
    await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
    const home = tempDir();
    try {
      await assert.rejects(pullModel(`http://127.0.0.1:${(http.address() as AddressInfo).port}/org/repo/model.gguf`, { home, retries: 0 }), /model\.gguf was not found \(HTTP 404\)/);
    } finally {
      http.close();
    }
    const models = join(home, "models");
    const left = existsSync(models) ? readdirSync(models, { recursive: true }) : [];
    assert.deepEqual(left.filter((f) => !String(f).endsWith(".json")), [], `left behind: ${left.join(", ")}`);
  });
});
