/**
 * Starting and stopping the servers under benchmark: free-port lookup, spawning a command in its
 * own process group with output to a log file, polling a readiness URL, and killing the whole
 * group on stop (SIGTERM, then SIGKILL). `stopAll` is safe to call from exit/signal handlers.
 * Also: which flags a llama-server build takes.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";

export interface ManagedServer {
  name: string;
  url: string;
  command: string[];
  logPath: string;
  child: ChildProcess;
  exited: boolean;
  exitCode: number | null;
}

const running = new Set<ManagedServer>();

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

/** Spawns `command` (argv form) detached into its own process group, stdout+stderr to `logPath`. */
export function startServer(name: string, url: string, command: string[], logPath: string): ManagedServer {
  const fd = openSync(logPath, "w");
  const child = spawn(command[0]!, command.slice(1), { stdio: ["ignore", fd, fd], detached: true });
  closeSync(fd);
  const server: ManagedServer = { name, url, command, logPath, child, exited: false, exitCode: null };
  child.on("exit", (code) => { server.exited = true; server.exitCode = code; running.delete(server); });
  child.on("error", (err) => { server.exited = true; running.delete(server); process.stderr.write(`${name}: ${err.message}\n`); });
  running.add(server);
  return server;
}

export function logTail(server: ManagedServer, lines = 20): string {
  try {
    return readFileSync(server.logPath, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/** Polls `GET {url}{path}` until it answers 200; fails early if the process exits. */
export async function waitReady(server: ManagedServer, path: string, timeoutMs: number): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    if (server.exited) throw new Error(`${server.name} exited (code ${server.exitCode}) before becoming ready; log ${server.logPath}:\n${logTail(server)}`);
    try {
      const res = await fetch(`${server.url}${path}`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status === 200) return performance.now() - start;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${server.name} not ready at ${server.url}${path} after ${timeoutMs} ms; log ${server.logPath}:\n${logTail(server)}`);
}

function signalGroup(server: ManagedServer, signal: NodeJS.Signals): void {
  const pid = server.child.pid;
  if (pid === undefined || server.exited) return;
  try {
    process.kill(-pid, signal); // the whole process group (the command may be a shell wrapper)
  } catch {
    try { server.child.kill(signal); } catch { /* already gone */ }
  }
}

/** SIGTERM, then SIGKILL after `graceMs` if it is still alive. */
export async function stopServer(server: ManagedServer, graceMs = 5000): Promise<void> {
  if (server.exited) return;
  const gone = new Promise<void>((resolve) => server.child.once("exit", () => resolve()));
  signalGroup(server, "SIGTERM");
  const timer = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), graceMs).unref());
  if ((await Promise.race([gone, timer])) === "timeout") {
    signalGroup(server, "SIGKILL");
    await Promise.race([gone, new Promise((r) => setTimeout(r, 2000).unref())]);
  }
  running.delete(server);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((s) => stopServer(s)));
}

/** Synchronous last resort for process 'exit': SIGKILL every group still running. */
export function killAllSync(): void {
  for (const s of running) signalGroup(s, "SIGKILL");
  running.clear();
}

/** The wanted [flag, value?] pairs a binary's --help lists, flattened to argv; `note` hears which were left out. */
export function supportedArgs(binary: string, wanted: [string, string?][], note: (line: string) => void): string[] {
  const help = spawnSync(binary, ["--help"], { encoding: "utf8", timeout: 30_000 });
  const text = `${help.stdout ?? ""}${help.stderr ?? ""}`;
  const has = (flag: string) => new RegExp(`(^|[\\s,])${flag.replace(/[-]/g, "\\-")}([\\s,=]|$)`, "m").test(text);
  const args: string[] = [];
  for (const [flag, value] of wanted) {
    if (!has(flag)) { note(`${binary} has no ${flag}: leaving it out`); continue; }
    args.push(flag, ...(value === undefined ? [] : [value]));
  }
  return args;
}

/**
 * Runs a benchmark script's main: servers are stopped on success, failure, Ctrl-C or SIGTERM
 * (and killed on any other exit); a failure prints one line naming the script.
 */
export function runBenchmark(name: string, main: () => Promise<void>, say: (line: string) => void): void {
  let exiting = false;
  const shutdown = (code: number) => {
    if (exiting) return;
    exiting = true;
    stopAll().finally(() => process.exit(code));
  };
  process.on("SIGINT", () => { say("interrupted: stopping servers"); shutdown(130); });
  process.on("SIGTERM", () => shutdown(143));
  process.on("exit", () => killAllSync());
  main().then(
    () => shutdown(0),
    (err: unknown) => { say(`${name}: ${(err as Error).message}`); shutdown(1); },
  );
}
