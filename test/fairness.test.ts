/**
 * Fair backpressure over HTTP: with one sequence and one API key keeping a deep queue, another
 * key's single request runs after at most one of the first key's — the queue takes turns by key.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KeyStore } from "../src/keys/store.js";
import { metricValue, postJson, startTinyServer, tempDir, waitFor } from "./helpers.js";

describe("fair backpressure", () => {
  it("a second key's request completes while the first key has a deep queue", async () => {
    const home = tempDir();
    const store = KeyStore.inHome(home);
    const noisy = store.create("noisy", "inference").key;
    const quiet = store.create("quiet", "inference").key;
    const admin = store.create("ops", "admin").key;
    const server = await startTinyServer({ home, parallel: 1, maxQueue: 64, threads: 1 });
    try {
      const finished: string[] = [];
      const ask = (key: string, label: string) =>
        postJson(`${server.url}/v1/chat/completions`, { messages: [{ role: "user", content: label }], max_tokens: label === "quiet" ? 8 : 150, ignore_eos: true }, { headers: { "content-type": "application/json", authorization: `Bearer ${key}` } }).then((r) => {
          assert.equal(r.status, 200, JSON.stringify(r.json));
          finished.push(label);
        });
      const flood = Array.from({ length: 10 }, (_, i) => ask(noisy, `noisy-${i}`));
      // The quiet key arrives once the noisy key's requests are all queued behind the running one.
      await waitFor(async () => (metricValue(await (await fetch(`${server.url}/v1/metrics`, { headers: { authorization: `Bearer ${admin}` } })).text(), "num_requests_waiting") ?? 0) >= 8);
      await Promise.all([...flood, ask(quiet, "quiet")]);
      const position = finished.indexOf("quiet");
      assert.ok(position <= 3, `the quiet key's request finished ${position + 1}th of 11: ${finished.join(" ")}`);
    } finally {
      await server.close();
    }
  });
});
