/** `nimble keys create|ls|rm`: API keys kept (hashed) in the Nimble home folder. */
import { Command, InvalidArgumentError } from "commander";
import { resolveConfig } from "../../config.js";
import { KeyStore, SCOPES, type KeyLimits, type Scope } from "../../keys/store.js";

const say = (line: string) => process.stdout.write(`${line}\n`);

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number ≥ 0 (0 = unlimited)");
  return n;
}

function store(options: { home?: string }): KeyStore {
  return KeyStore.inHome(resolveConfig(options.home === undefined ? {} : { home: options.home }).home);
}

const limitText = (l: KeyLimits) =>
  [l.rpm !== undefined ? `rpm ${l.rpm}` : "", l.tpm !== undefined ? `tpm ${l.tpm}` : "", l.concurrency !== undefined ? `concurrency ${l.concurrency}` : ""].filter(Boolean).join(", ") || "server defaults";

export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("Manage API keys (stored hashed in <home>/keys.json; a running server sees changes at once).");
  const home = "--home <dir>";
  const homeHelp = "Nimble home folder [env: NIMBLE_HOME, NIM_CACHE_PATH]";

  keys
    .command("create")
    .description("Create a key and print it once (it is stored only as a hash).")
    .requiredOption("--name <name>", "a name for the key (shown in logs and metrics)")
    .option("--scope <scope>", `${SCOPES.join(" or ")}: admin adds /v1/metrics, /v1/metadata and /v1/admin/*`, "inference")
    .option("--rpm <n>", "requests per minute (default: the server's --rate-limit-rpm)", count)
    .option("--tpm <n>", "tokens per minute, prompt + completion (default: --rate-limit-tpm)", count)
    .option("--concurrency <n>", "requests in flight at once (default: --rate-limit-concurrency)", count)
    .option("--guardrails <config-id>", "the guardrails configuration the key's requests get by default (an id of the --guardrails file)")
    .option(home, homeHelp)
    .action((opts: { name: string; scope: string; rpm?: number; tpm?: number; concurrency?: number; guardrails?: string; home?: string }) => {
      if (!(SCOPES as readonly string[]).includes(opts.scope)) throw new Error(`--scope must be ${SCOPES.join(" or ")}, not "${opts.scope}"`);
      const limits: KeyLimits = {
        ...(opts.rpm !== undefined ? { rpm: opts.rpm } : {}),
        ...(opts.tpm !== undefined ? { tpm: opts.tpm } : {}),
        ...(opts.concurrency !== undefined ? { concurrency: opts.concurrency } : {}),
      };
      const s = store(opts);
      const { key, stored } = s.create(opts.name, opts.scope as Scope, limits, opts.guardrails);
      say(key);
      process.stderr.write(`created key "${stored.name}" (${stored.scope} scope, ${limitText(stored.limits)}) in ${s.path}\nThis is the only time the key is shown: keep it now.\n`);
    });

  keys
    .command("ls")
    .description("List keys (names, scopes, limits; never the keys).")
    .option("--json", "print JSON")
    .option(home, homeHelp)
    .action((opts: { json?: boolean; home?: string }) => {
      const list = store(opts).list().map(({ hash: _hash, ...k }) => k);
      if (opts.json) say(JSON.stringify(list, null, 2));
      else if (list.length === 0) say("no keys");
      else for (const k of list) say(`${k.name.padEnd(20)} ${k.scope.padEnd(9)} ${k.hint.padEnd(10)} ${k.createdAt}  ${limitText(k.limits)}`);
    });

  keys
    .command("rm")
    .description("Delete a key: requests with it are refused from then on.")
    .argument("<name>", "the key's name")
    .option(home, homeHelp)
    .action((name: string, opts: { home?: string }) => {
      if (!store(opts).remove(name)) throw new Error(`no key named "${name}"`);
      say(`removed key "${name}"`);
    });
}
