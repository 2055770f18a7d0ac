/**
 * A grammar that does not parse is the client's error (a 400 naming llama.cpp's reason), not
 * lines on the server's terminal: llama.cpp prints the reason on stderr and, once node-llama-cpp's
 * logger is lost to a second Llama instance, its log lines on stdout. Run in a child process, whose
 * stdout and stderr are then checked to be empty (grammar-errors-child.ts).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { loadAddon } from "../src/engine/addon.js";
import { tempDir } from "./helpers.js";

const CHILD = fileURLToPath(new URL("./grammar-errors-child.js", import.meta.url));

describe("grammar errors", () => {
  it("the native addon is built (the capture below needs it)", () => {
    assert.notEqual(typeof loadAddon(), "string", String(loadAddon()));
  });

  for (const instances of ["one", "two"]) {
    it(`names llama.cpp's reason in the error and prints nothing (${instances} Llama instance${instances === "two" ? "s" : ""})`, () => {
      const out = join(tempDir(), "result.json");
      const child = spawnSync(process.execPath, [CHILD, instances, out], { encoding: "utf8", timeout: 120_000 });
      assert.equal(child.status, 0, child.stderr);
      assert.equal(child.stdout, "");
      assert.equal(child.stderr, "");
      const result = JSON.parse(readFileSync(out, "utf8"));
      assert.match(result.errors[0], /cannot be compiled: .*Undefined rule identifier 'missing-rule'/);
      assert.match(result.errors[1], /cannot be compiled: .*expecting '\)'/);
      // llama.cpp logs this one (left recursion) through its log, which reaches the sink after the error.
      assert.match(result.errors[2], /cannot be compiled/);
      assert.ok(result.logged.some((l: { message: string }) => /left recursion/.test(l.message)));
      assert.equal(result.ok, 'root ::= "a"');
      // What llama.cpp said went to the log, at debug.
      assert.ok(result.logged.length > 0);
      assert.deepEqual([...new Set(result.logged.map((l: { level: string }) => l.level))], ["debug"]);
    });
  }
});
