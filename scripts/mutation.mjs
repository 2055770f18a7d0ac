// Runs Stryker once per module of stryker.config.mjs and prints each module's mutation score.
// Usage: npm run test:mutation [-- module ...]   (no module: all of them; slow, see docs/TESTING.md)
// Env: MUTATION_CONCURRENCY (default 2), MUTATION_TYPECHECK=0 to skip the TypeScript checker.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { MODULES } from "../stryker.config.mjs";

const wanted = process.argv.slice(2);
for (const name of wanted) if (!(name in MODULES)) { console.error(`unknown module "${name}"; known: ${Object.keys(MODULES).join(", ")}`); process.exit(2); }
const names = wanted.length > 0 ? wanted : Object.keys(MODULES).filter((n) => n !== "scheduler-all");

/** Stryker's score: detected (killed, timed out) over detected plus undetected (survived, no coverage). */
function score(report) {
  const counts = {};
  for (const file of Object.values(report.files)) for (const m of file.mutants) counts[m.status] = (counts[m.status] ?? 0) + 1;
  const detected = (counts.Killed ?? 0) + (counts.Timeout ?? 0);
  const undetected = (counts.Survived ?? 0) + (counts.NoCoverage ?? 0);
  return { score: detected + undetected > 0 ? (100 * detected) / (detected + undetected) : NaN, counts };
}

const results = [];
for (const name of names) {
  const started = Date.now();
  const run = spawnSync("npx", ["stryker", "run", "stryker.config.mjs"], { stdio: "inherit", env: { ...process.env, MUTATION_MODULE: name } });
  const path = `reports/mutation/${name}.json`;
  if (run.status !== 0 || !existsSync(path)) { results.push(`${name}: Stryker failed (exit ${run.status})`); continue; }
  const { score: s, counts } = score(JSON.parse(readFileSync(path, "utf8")));
  results.push(`${name}: ${s.toFixed(1)}% ${JSON.stringify(counts)} in ${Math.round((Date.now() - started) / 1000)} s`);
}
console.log(`\nmutation scores\n${results.join("\n")}`);
