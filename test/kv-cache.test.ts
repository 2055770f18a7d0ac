/**
 * Prefix sharing beyond one sequence, on the real engine (tiny model, real server over HTTP):
 * a burst of requests with the same system prompt prefills it once and copies it to the sibling
 * sequences; a conversation whose sequence was reassigned restores its history from the KV cache
 * tier (memory or disk) with the same greedy output as if it had never left; damaged or foreign
 * tier files are refused, never loaded.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { decodeKvFile, encodeKvFile, KvTier } from "../src/engine/kv-tier.js";
import type { Engine, EngineStats } from "../src/engine/types.js";
import { NO_STRAY_BYTES, postJson, startTinyServer, tempDir } from "./helpers.js";

const words = (n: number, seed: number) => Array.from({ length: n }, (_, i) => `w${(i * 7919 + seed * 104729) % 997}`).join(" ");
const SYSTEM = words(120, 1);
const chat = (messages: { role: string; content: string }[], max = 24) =>
  ({ model: "tiny", messages, max_tokens: max, temperature: 0, ignore_eos: true, logit_bias: NO_STRAY_BYTES });
const stats = async (server: { ready: Promise<Engine> }): Promise<EngineStats> => (await server.ready).stats();

describe("shared prefix in a burst", () => {
  it("prefills the system prompt once for 4 concurrent requests, with the outputs of requests sent alone", async () => {
    const server = await startTinyServer({ parallel: 4, threads: 1 });
    try {
      const bodies = [0, 1, 2, 3].map((i) => chat([{ role: "system", content: SYSTEM }, { role: "user", content: words(8, 10 + i) }]));
      const burst = await Promise.all(bodies.map((b) => postJson(`${server.url}/v1/chat/completions`, b)));
      const s = await stats(server);
      const prompt = burst[0]!.json.usage.prompt_tokens as number;
      assert.ok(prompt > 300, `prompt tokens ${prompt}`);
      // Alone, each would prefill ~prompt tokens; shared, the prefix goes once and each request adds its question.
      assert.ok(s.prefillTokens! < prompt * 1.5, `prefilled ${s.prefillTokens} tokens for 4 prompts of ${prompt}`);
      assert.ok((s.prefixCopies ?? 0) >= 3, `prefix copies ${s.prefixCopies}`);
      const cached = burst.map((r) => r.json.usage.prompt_tokens_details?.cached_tokens ?? 0).sort((a, b) => a - b);
      assert.equal(cached[0], 0);
      for (const c of cached.slice(1)) assert.ok(c >= prompt * 0.9, `cached ${c} of ${prompt}`);
      // One at a time (each reuses whatever a sequence holds, never a copy): the same greedy text.
      for (let i = 0; i < bodies.length; i++) {
        const alone = await postJson(`${server.url}/v1/chat/completions`, bodies[i]);
        assert.equal(alone.json.choices[0].message.content, burst[i]!.json.choices[0].message.content, `request ${i}`);
      }
    } finally {
      await server.close();
    }
  });
});

/** Turn 1 of conversation A, then (optionally) B takes A's only sequence, then A's turn 2. */
async function conversation(url: string, evictWith: string | undefined) {
  const a1 = [{ role: "system", content: SYSTEM }, { role: "user", content: words(20, 3) }];
  const first = await postJson(`${url}/v1/chat/completions`, chat(a1));
  if (evictWith !== undefined) await postJson(`${url}/v1/chat/completions`, chat([{ role: "user", content: evictWith }]));
  const a2 = [...a1, { role: "assistant", content: first.json.choices[0].message.content as string }, { role: "user", content: words(20, 4) }];
  const second = await postJson(`${url}/v1/chat/completions`, chat(a2, 32));
  return { text: second.json.choices[0].message.content as string, usage: second.json.usage };
}

describe("KV cache tier", () => {
  it("restores a reassigned conversation from memory with the output it had when it kept its sequence", async () => {
    const server = await startTinyServer({ parallel: 1, threads: 1 });
    try {
      const kept = await conversation(server.url, undefined);
      const before = await stats(server);
      const restored = await conversation(server.url, words(40, 9));
      const after = await stats(server);
      assert.equal(restored.text, kept.text);
      assert.ok(after.kvTier!.ram.saves > before.kvTier!.ram.saves, "the evicted conversation was saved");
      assert.ok(after.kvTier!.ram.hits > before.kvTier!.ram.hits, "and restored");
      // cached_tokens counts the restored history.
      assert.ok(restored.usage.prompt_tokens_details.cached_tokens > 300, JSON.stringify(restored.usage));
      const metrics = await (await fetch(`${server.url}/v1/metrics`)).text();
      assert.match(metrics, /nimble_kv_cache_ram_hits_total\{model_name="tiny"\} [1-9]/);
    } finally {
      await server.close();
    }
  });

  it("spills to disk, restores from there, and refuses a damaged or foreign file", async () => {
    const home = tempDir();
    const options = { parallel: 1, threads: 1, home, kvCacheRam: 0, kvCacheDisk: 64 * 1024 * 1024 };
    let server = await startTinyServer(options);
    let expected: string;
    let dir: string;
    try {
      expected = (await conversation(server.url, undefined)).text;
      const restored = await conversation(server.url, words(40, 9));
      assert.equal(restored.text, expected);
      const s = await stats(server);
      assert.ok(s.kvTier!.disk.saves >= 1 && s.kvTier!.disk.hits >= 1, JSON.stringify(s.kvTier));
      assert.equal(s.kvTier!.ram.bytes, 0);
      const top = join(home, "kv-cache");
      dir = join(top, readdirSync(top)[0]!);
      assert.ok(readdirSync(dir).some((f) => f.endsWith(".kv")));
    } finally {
      await server.close();
    }

    // Damage every saved file (one byte of state), start again: the files pass the header check at
    // start, fail the checksum on restore, and the conversation is prefilled with the same result.
    for (const f of readdirSync(dir).filter((f) => f.endsWith(".kv"))) {
      const buf = readFileSync(join(dir, f));
      buf[buf.length - 100] = buf[buf.length - 100]! ^ 0xff;
      writeFileSync(join(dir, f), buf);
    }
    // And a file of another model (same tokens, another fingerprint) under a valid name.
    const anyFile = readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith(".kv"))!));
    writeFileSync(join(dir, `${"f".repeat(32)}.kv`), encodeKvFile("another-model", "", [1, 2, 3], anyFile.subarray(anyFile.length - 1000)));
    server = await startTinyServer(options);
    try {
      assert.equal((await stats(server)).kvTier!.disk.rejected, 1, "the foreign file is refused at start");
      const again = await conversation(server.url, words(40, 9));
      assert.equal(again.text, expected);
      assert.ok((await stats(server)).kvTier!.disk.rejected >= 2, "the damaged file is refused on restore");
      assert.ok(!readdirSync(dir).includes(`${"f".repeat(32)}.kv`));
    } finally {
      await server.close();
    }
  });
});

describe("KV tier files and limits", () => {
  const state = (n: number, fill: number) => Buffer.alloc(n, fill);
  const tokens = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

  it("round-trips a file and refuses other fingerprints, truncation and damage", () => {
    const file = encodeKvFile("fp", "", tokens(40), state(500, 7));
    const ok = decodeKvFile(file, "fp");
    assert.ok(typeof ok !== "string");
    assert.deepEqual(ok.tokens, tokens(40));
    assert.ok(ok.state.equals(state(500, 7)));
    assert.match(decodeKvFile(file, "other") as string, /another model/);
    assert.match(decodeKvFile(file.subarray(0, file.length - 1), "fp") as string, /length/);
    const bad = Buffer.from(file);
    bad[bad.length - 1] ^= 1;
    assert.match(decodeKvFile(bad, "fp") as string, /checksum/);
    assert.match(decodeKvFile(Buffer.from("garbage garbage garbage"), "fp") as string, /not a Nimble KV file/);
  });

  it("keeps the longest prefix, drops covered entries, evicts LRU from memory to disk and off disk", () => {
    const dir = tempDir();
    const tier = new KvTier({ ramBytes: 2000, diskBytes: 2500, dir, fingerprint: "fp" });
    tier.save(tokens(40), "", state(1000, 1));
    tier.save(tokens(60), "", state(1000, 2)); // covers the first: it is dropped
    assert.equal(tier.stats().ram.entries, 1);
    assert.equal(tier.find(tokens(50), "")!.length, 50);
    assert.equal(tier.find(tokens(50), "lora"), undefined);
    tier.save(tokens(40, 1000), "", state(1000, 3));
    tier.save(tokens(40, 2000), "", state(1000, 4)); // RAM over 2000: the LRU entry goes to disk
    assert.deepEqual([tier.stats().ram.entries, tier.stats().disk.entries], [2, 1]);
    tier.save(tokens(40, 3000), "", state(1000, 5));
    tier.save(tokens(40, 4000), "", state(1000, 6)); // disk over 2500: its LRU entry is deleted
    assert.deepEqual([tier.stats().ram.entries, tier.stats().disk.entries], [2, 2]);
    assert.equal(readdirSync(dir).length, 2);
    // Restoring a disk entry brings it back to memory with the right bytes.
    const found = tier.find(tokens(40, 2000), "")!;
    assert.equal(found.entry.tier, "disk");
    let got: Buffer | undefined;
    assert.ok(tier.restore(found.entry, (s) => ((got = Buffer.from(s)), true)));
    assert.ok(got!.equals(state(1000, 4)));
    assert.equal(tier.stats().disk.hits, 1);
    // A restart finds the files on disk.
    const again = new KvTier({ ramBytes: 0, diskBytes: 2500, dir, fingerprint: "fp" });
    assert.ok(again.stats().disk.entries >= 1);
    assert.equal(new KvTier({ ramBytes: 0, diskBytes: 2500, dir, fingerprint: "other" }).stats().disk.rejected, readdirSync(dir).length === 0 ? 2 : 2);
  });
});
