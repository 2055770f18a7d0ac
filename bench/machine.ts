/** What a benchmark ran on: CPU, memory, Node, date, and the git commit of the Nimble checkout. */
import { execFileSync, spawnSync } from "node:child_process";
import os from "node:os";

export interface MachineInfo {
  cpu: string;
  cores: number;
  totalMemoryGiB: number;
  platform: string;
  node: string;
  date: string;
  gitCommit?: string;
  gitDirty?: boolean;
}

function git(repo: string, args: string[]): string | undefined {
  try {
    return execFileSync("git", ["-C", repo, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 10_000 }).trim();
  } catch {
    return undefined;
  }
}

export function machineInfo(repo: string): MachineInfo {
  const cpus = os.cpus();
  const commit = git(repo, ["rev-parse", "HEAD"]);
  const status = commit ? git(repo, ["status", "--porcelain", "--untracked-files=no"]) : undefined;
  return {
    cpu: cpus[0]?.model ?? "unknown",
    cores: cpus.length,
    totalMemoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    date: new Date().toISOString(),
    gitCommit: commit,
    gitDirty: status === undefined ? undefined : status.length > 0,
  };
}

/** The line of `binary --version` that mentions the version (llama.cpp prints it on stderr), or undefined. */
export function binaryVersion(binary: string): string | undefined {
  const r = spawnSync(binary, ["--version"], { encoding: "utf8", timeout: 20_000 });
  return `${r.stdout ?? ""}\n${r.stderr ?? ""}`.split("\n").find((l) => l.includes("version"))?.trim();
}
