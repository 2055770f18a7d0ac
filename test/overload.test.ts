/**
 * bench/load.ts at test scale: many streaming clients against few sequences, some hanging up at
 * random points. Every request ends in a complete 200 stream, a 429 or a 503 with an OpenAI error
 * body and Retry-After, and the server returns to idle (nothing running or waiting) afterwards.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runOverload, waitDrained } from "../bench/load.js";
import { startTinyServer } from "./helpers.js";

describe("overload", () => {
  it("loses nothing and leaks no sequence with 120 clients on 4 sequences, 20% hanging up", async () => {
    const server = await startTinyServer({ parallel: 4, maxQueue: 24, queueTimeout: 30 });
    try {
      const result = await runOverload({ url: server.url, clients: 120, disconnectFraction: 0.2, maxTokens: 32, seed: 3, timeoutMs: 60_000 });
      assert.deepEqual(result.failures, []);
      for (const outcome of Object.keys(result.outcomes)) assert.ok(["200", "429", "503", "disconnected"].includes(outcome), outcome);
      assert.ok((result.outcomes["200"] ?? 0) > 0 && (result.outcomes["429"] ?? 0) > 0 && (result.outcomes.disconnected ?? 0) > 0, JSON.stringify(result.outcomes));
      await waitDrained(server.url);
      const stats = (await server.ready).stats();
      assert.equal(stats.running, 0);
      assert.equal(stats.waiting, 0);
    } finally {
      await server.close();
    }
  });
});
