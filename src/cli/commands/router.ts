/** `nimble router`: one OpenAI/NIM/Anthropic-compatible front door over Nimble replicas and other engines. */
import type { Command } from "commander";
import { loadRouterConfig, type RouterFlags } from "../../router/config.js";
import { startRouter } from "../../router/server.js";

const say = (line: string) => process.stdout.write(`${line}\n`);

export function registerRouter(program: Command): void {
  program
    .command("router")
    .description("Route OpenAI/NIM/Anthropic API requests across Nimble replicas and other OpenAI-compatible servers (docs/ROUTER.md).")
    .option("--config <file>", "router.yaml (or .json): upstreams, routing weights, retries, breaker, timeouts, queue, keys [env: NIMBLE_ROUTER_CONFIG]")
    .option("--upstream <[name=]url>", "an upstream's base URL; repeat for several (replaces the config file's list) [env: NIMBLE_ROUTER_UPSTREAMS, comma-separated]", (v: string, prev: string[] = []) => [...prev, v])
    .option("--host <host>", "address to listen on (default: 127.0.0.1) [env: NIMBLE_ROUTER_HOST]")
    .option("--port <port>", "port to listen on (default: 8080) [env: NIMBLE_ROUTER_PORT]")
    .option("--strategy <name>", "score (prefix + load + session + LoRA affinity) or round-robin (default: score) [env: NIMBLE_ROUTER_STRATEGY]")
    .option("--api-key <key>", "a key clients must send; repeat for several [env: NIMBLE_API_KEYS]", (v: string, prev: string[] = []) => [...prev, v])
    .option("--api-key-file <file>", "a file of client keys, one per line [env: NIMBLE_API_KEY_FILE]")
    .option("--home <dir>", "Nimble home folder whose `nimble keys` keys are accepted too [env: NIMBLE_HOME]")
    .option("--log-level <level>", "silent, error, warn, info or debug (default: info) [env: NIMBLE_LOG_LEVEL]")
    .action(async (flags: RouterFlags) => {
      const config = loadRouterConfig(flags);
      const router = await startRouter(config);
      for (const u of router.upstreams) {
        say(`upstream   ${u.name} ${u.base.href} — ${u.ready ? `ready, ${u.models.size} model(s): ${[...u.models.keys()].slice(0, 8).join(", ")}` : `not ready (${u.lastError ?? "no answer"})`}`);
      }
      const w = config.routing.weights;
      say(`routing    ${config.routing.strategy}${config.routing.strategy === "score" ? ` (weights: prefix ${w.prefix}, load ${w.load}, session ${w.session}, lora ${w.lora})` : ""}; retries ${config.retries}; breaker ${config.breaker.failureThreshold} failures / ${config.breaker.cooldown}s`);
      say(`listening  ${router.url}  (OpenAI base URL: ${router.url}/v1)`);
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) process.exit(1);
        stopping = true;
        say(`${signal}: stopping`);
        router.close().then(() => process.exit(0), () => process.exit(1));
      };
      process.on("SIGTERM", () => stop("SIGTERM"));
      process.on("SIGINT", () => stop("SIGINT"));
    });
}
