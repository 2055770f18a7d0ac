/** Configuration precedence (flags > env > file > defaults), NIM aliases, and the documented table. */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ConfigError, optionsMarkdownTable, resolveConfig } from "../src/config.js";
import { tempDir } from "./helpers.js";

describe("config", () => {
  it("uses defaults", () => {
    const c = resolveConfig({}, {});
    assert.equal(c.port, 8000);
    assert.equal(c.host, "127.0.0.1");
    assert.equal(c.parallel, 4);
    assert.equal(c.model, undefined);
  });

  it("resolves flags over env over file over defaults", () => {
    const file = join(tempDir(), "nimble.json");
    writeFileSync(file, JSON.stringify({ port: 7000, parallel: 8, maxQueue: 3 }));
    const env = { NIMBLE_PORT: "7001", NIMBLE_PARALLEL: "6" };
    const c = resolveConfig({ port: "7002" }, env, file);
    assert.equal(c.port, 7002);
    assert.equal(c.parallel, 6);
    assert.equal(c.maxQueue, 3);
  });

  it("accepts NIM's environment names as aliases, NIMBLE_* winning", () => {
    const c = resolveConfig({}, { NIM_SERVER_PORT: "9000", NIM_MAX_MODEL_LEN: "2048", NIM_SERVED_MODEL_NAME: "m", NIM_MODEL_PATH: "/x.gguf", NIM_CACHE_PATH: "/cache" });
    assert.deepEqual([c.port, c.ctxSize, c.servedModelName, c.model, c.home], [9000, 2048, "m", "/x.gguf", "/cache"]);
    assert.equal(resolveConfig({}, { NIM_SERVER_PORT: "9000", NIMBLE_PORT: "9001" }).port, 9001);
  });

  it("names the source of an invalid value", () => {
    assert.throws(() => resolveConfig({ parallel: "zero" }, {}), (e: unknown) => e instanceof ConfigError && /--parallel/.test((e as Error).message));
    assert.throws(() => resolveConfig({}, { NIMBLE_GPU: "tpu" }), /NIMBLE_GPU/);
    const file = join(tempDir(), "bad.json");
    writeFileSync(file, JSON.stringify({ prot: 1 }));
    assert.throws(() => resolveConfig({}, {}, file), /unknown option "prot"/);
    assert.throws(() => resolveConfig({}, {}, "/nonexistent.json"), /cannot read config file/);
  });

  it("reads a YAML config file with a models list, sizes and durations", () => {
    const file = join(tempDir(), "nimble.yaml");
    writeFileSync(file, ["port: 9000", "memoryBudget: 1.5GiB", "keepAlive: 10m", "models:", "  - id: chat", "    aliases: [default]", "    source: ./chat.gguf", "    preload: true", "  - id: embed", "    kind: embedding", "    source: hf:o/r/e.gguf", ""].join("\n"));
    const c = resolveConfig({}, {}, file);
    assert.equal(c.port, 9000);
    assert.equal(c.memoryBudget, 1.5 * 2 ** 30);
    assert.equal(c.keepAlive, "10m");
    assert.deepEqual(c.models.map((m) => [m.id, m.kind, m.preload, m.aliases]), [["chat", "chat", true, ["default"]], ["embed", "embedding", false, []]]);
    assert.equal(resolveConfig({}, { NIMBLE_MEMORY_BUDGET: "512MB" }).memoryBudget, 512 * 2 ** 20);
    assert.throws(() => resolveConfig({}, { NIMBLE_MEMORY_BUDGET: "lots" }), /NIMBLE_MEMORY_BUDGET.*8GB/);
    writeFileSync(file, "models:\n  - id: x\n    sorce: typo.gguf\n");
    assert.throws(() => resolveConfig({}, {}, file), /invalid models\.0/);
  });

  it("is documented in docs/CONFIGURATION.md exactly as in the code", () => {
    const doc = readFileSync(new URL("../../docs/CONFIGURATION.md", import.meta.url), "utf8");
    assert.ok(doc.includes(optionsMarkdownTable()), "docs/CONFIGURATION.md's table is out of date: regenerate it with `npm run docs:config`");
  });
});

describe("createServer options", () => {
  it("are validated like flags, with a clear error", async () => {
    const { createServer } = await import("../src/nimble.js");
    await assert.rejects(createServer({ parallel: -1 } as never), /invalid value -1 for --parallel/);
    await assert.rejects(createServer({ gpu: "tpu" } as never), /--gpu/);
  });
});
