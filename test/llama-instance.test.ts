/**
 * One node-llama-cpp Llama per process (src/engine/llama-instance.ts): with a chat and an embedding
 * engine loaded, llama.cpp's log lines still reach Nimble's log sink. With one Llama per engine,
 * node-llama-cpp 3.21.1 lost the sink at the second instance, and the lines were printed on the
 * console instead. Run in a child process, whose stdout and stderr are checked to be empty.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { sharedLlama } from "../src/engine/llama-instance.js";
import { tempDir } from "./helpers.js";

const CHILD = fileURLToPath(new URL("./llama-instance-child.js", import.meta.url));

describe("one Llama per process", () => {
  it("gives every caller with the same GPU choice the same instance", async () => {
    const [a, b] = await Promise.all([sharedLlama("cpu"), sharedLlama("cpu")]);
    assert.equal(a, b);
    assert.equal(await sharedLlama("cpu"), a);
  });

  it("keeps llama.cpp's log lines in Nimble's log with a chat and an embedding engine loaded", () => {
    const out = join(tempDir(), "result.json");
    const child = spawnSync(process.execPath, [CHILD, out], { encoding: "utf8", timeout: 120_000 });
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout, "");
    assert.equal(child.stderr, "");
    const result = JSON.parse(readFileSync(out, "utf8")) as { error: string; logged: { level: string; message: string }[] };
    assert.ok(result.error.length > 0, "the adapter was refused");
    assert.ok(result.logged.some((l) => l.level === "error" && /failed to apply lora adapter/.test(l.message)), JSON.stringify(result.logged));
  });
});
