/**
 * Every option behaves the same from a flag, the environment and a config file: it resolves to
 * the same value, and it counts as set by the user (serving profiles keep what a user set, e.g.
 * `parallel` in a config file).
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { z } from "zod";
import { fixedSettings } from "../src/cli/commands/profiles.js";
import { givenOptions, OPTIONS, resolveConfig, type OptionName } from "../src/config.js";
import { tempDir } from "./helpers.js";

/** Values for options whose schema alone does not suggest a valid one. */
const SAMPLES: Partial<Record<OptionName, string>> = {
  memoryBudget: "512MiB",
  keepAlive: "10m",
  gpu: "cpu",
  logLevel: "warn",
  tlsCert: "/c.pem",
  tlsKey: "/k.pem",
  ui: "false",
  assistantUrl: "http://127.0.0.1:9",
};

/** A valid non-default value, as text (what a flag or a variable carries). */
function sample(name: OptionName): string {
  if (SAMPLES[name] !== undefined) return SAMPLES[name]!;
  const schema = OPTIONS[name].schema as z.ZodTypeAny;
  for (const candidate of ["7", "true", "a,b", "x"]) {
    const parsed = schema.safeParse(candidate);
    if (parsed.success && JSON.stringify(parsed.data) !== JSON.stringify(OPTIONS[name].default)) return candidate;
  }
  throw new Error(`no sample value for ${name}: add one to SAMPLES`);
}

describe("options from flag, environment and config file", () => {
  it("resolve alike and count as given, for every option", () => {
    const dir = tempDir();
    const names = Object.keys(OPTIONS) as OptionName[];
    for (const name of names) {
      const value = sample(name);
      // tlsCert and tlsKey must come together.
      const partner: OptionName | undefined = name === "tlsCert" ? "tlsKey" : name === "tlsKey" ? "tlsCert" : undefined;
      const partnerFlag = partner ? { [partner]: sample(partner) } : {};
      const file = join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify({ [name]: value }));
      const fromFlag = resolveConfig({ [name]: value, ...partnerFlag }, {}, undefined)[name];
      const fromEnv = resolveConfig(partnerFlag, { [OPTIONS[name].env[0]!]: value }, undefined)[name];
      const fromFile = resolveConfig(partnerFlag, {}, file)[name];
      assert.deepEqual(fromEnv, fromFlag, `${name} from the environment`);
      assert.deepEqual(fromFile, fromFlag, `${name} from the config file`);
      assert.ok(givenOptions({ [name]: value }, {}, undefined).has(name), `${name} given by flag`);
      assert.ok(givenOptions({}, { [OPTIONS[name].env[0]!]: value }, undefined).has(name), `${name} given by env`);
      assert.ok(givenOptions({}, {}, file).has(name), `${name} given by file`);
      assert.ok(!givenOptions({}, {}, undefined).has(name));
    }
  });

  it("keeps parallel from a config file when choosing a serving profile", () => {
    const file = join(tempDir(), "nimble.json");
    writeFileSync(file, JSON.stringify({ parallel: 2 }));
    const config = resolveConfig({}, {}, file);
    assert.equal(fixedSettings({ config: file } as never, config, {}).parallel, 2);
    assert.equal(fixedSettings({}, resolveConfig({}, {}, undefined), {}).parallel, undefined);
  });
});
