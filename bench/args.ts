/**
 * Tiny command-line parsing for the bench scripts (`--name value` / `--name=value` / `--flag`),
 * kept here so the benchmarks need nothing beyond Node built-ins.
 */

export type Args = Map<string, string>;

/** Parses argv after the script name. A `--name` followed by another `--option` (or nothing) is "true". */
export function parseArgs(argv: string[], known: readonly string[]): Args {
  const out: Args = new Map();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) throw new Error(`unexpected argument: ${a}`);
    const eq = a.indexOf("=");
    const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    if (!known.includes(name)) throw new Error(`unknown option --${name} (known: ${known.map((k) => `--${k}`).join(", ")})`);
    if (eq >= 0) out.set(name, a.slice(eq + 1));
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith("--")) out.set(name, argv[++i]!);
    else out.set(name, "true");
  }
  return out;
}

export function intArg(args: Args, name: string, fallback: number): number {
  const v = args.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got ${v}`);
  return n;
}

export function intListArg(args: Args, name: string, fallback: number[]): number[] {
  const v = args.get(name);
  if (v === undefined) return fallback;
  const list = v.split(",").map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n <= 0)) {
    throw new Error(`--${name} must be a comma-separated list of positive integers, got ${v}`);
  }
  return list;
}
