/**
 * Soak: the overload mix of load.ts, round after round for a while, watching for leaks: after
 * every round the server must return to idle, and its RSS must stay within 10% of the first round's.
 *
 *   node dist/bench/soak.js [--duration 600] [--warmup 10] [--clients 500] [--parallel 8] [--disconnect 0.2] [--max-tokens 64] [--out docs/bench-results]
 *
 * The first --warmup rounds settle the heap and allocator (JIT, pools, V8's heap sizing); the RSS
 * after them is the baseline the later rounds are held to.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { intArg, parseArgs } from "./args.js";
import { LOAD_OPTIONS, overloadOptions, rssOf, runOverload, startLoadServer, waitDrained } from "./load.js";
import { machineInfo } from "./machine.js";
import { killAllSync, stopAll } from "./servers.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), LOAD_OPTIONS);
  const durationMs = intArg(args, "duration", 600) * 1000;
  const warmup = intArg(args, "warmup", 10);
  process.on("exit", killAllSync);
  const { server, pid } = await startLoadServer(args);
  const rounds: { round: number; outcomes: Record<string, number>; failures: number; rssMiB: number; drainMs: number }[] = [];
  let baseline: number | undefined;
  let failed = false;
  try {
    const start = performance.now();
    for (let round = 0; performance.now() - start < durationMs; round++) {
      const result = await runOverload(overloadOptions(server.url, args, intArg(args, "seed", 1) + round));
      const drainMs = await waitDrained(server.url);
      const rss = rssOf(pid);
      // The warm-up rounds' last RSS is the baseline.
      if (round < warmup) baseline = rss;
      const growth = rss / baseline! - 1;
      rounds.push({ round, outcomes: result.outcomes, failures: result.failures.length, rssMiB: rss / 2 ** 20, drainMs });
      if (result.failures.length > 0 || (round >= warmup && growth > 0.1)) failed = true;
      process.stdout.write(
        `round ${round} (${(result.durationMs / 1000).toFixed(1)} s): ${Object.entries(result.outcomes).map(([k, v]) => `${k} ${v}`).join(", ")}; failures ${result.failures.length}; RSS ${(rss / 2 ** 20).toFixed(1)} MiB (${round < warmup ? "warm-up" : `${(growth * 100).toFixed(1)}% vs the warm-up`})\n`,
      );
    }
  } finally {
    await stopAll();
  }
  const out = args.get("out");
  if (out) {
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, `soak-${new Date().toISOString().replace(/[:.]/g, "-")}.json`), `${JSON.stringify({ machine: machineInfo(REPO), settings: Object.fromEntries(args), rounds }, null, 2)}\n`);
  }
  process.stdout.write(`${rounds.length} rounds: ${failed ? "FAIL" : "PASS"}\n`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((err: unknown) => {
  process.stderr.write(`soak: ${(err as Error).message}\n`);
  process.exit(1);
});
