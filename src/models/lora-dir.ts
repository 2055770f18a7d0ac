/**
 * A folder of LoRA adapters (`--lora-dir`, NIM's NIM_PEFT_SOURCE): every GGUF adapter in it, as
 * `NAME.gguf` or `NAME/<file>.gguf`, is served as model NAME. The folder is read again when the
 * listing is older than the refresh interval, and whenever an unknown name is asked for, so
 * adapters copied in appear without a restart.
 */
import type { Dirent } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { readGgufFileInfo } from "node-llama-cpp";

export interface LoraAdapterFile {
  /** The model name clients use. */
  name: string;
  path: string;
  /** Modification time of the file, in ms. */
  modifiedMs: number;
}

export class LoraDirectory {
  private adapters = new Map<string, LoraAdapterFile>();
  private scannedAt = -Infinity;
  private scanning: Promise<void> | undefined;
  /** Files already found not to be adapters (path → mtime), so they are checked (and reported) once. */
  private readonly rejected = new Map<string, number>();

  constructor(
    readonly dir: string,
    /** How old the listing may get before the folder is read again, in ms. */
    private readonly refreshMs: number,
    /** Told once about each file that is not a usable adapter. */
    private readonly onWarning: (message: string) => void = () => {},
    /** The base model's architecture: adapters for another one are skipped. */
    private architecture?: string,
  ) {}

  /** Learns the base model's architecture once it is loaded (files are checked again). */
  setArchitecture(architecture: string): void {
    if (architecture === this.architecture) return;
    this.architecture = architecture;
    this.rejected.clear();
    this.adapters.clear();
    this.scannedAt = -Infinity;
  }

  async list(): Promise<LoraAdapterFile[]> {
    if (performance.now() - this.scannedAt >= this.refreshMs) await this.scan();
    return [...this.adapters.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  async find(name: string): Promise<LoraAdapterFile | undefined> {
    if (!this.adapters.has(name) || performance.now() - this.scannedAt >= this.refreshMs) await this.scan();
    return this.adapters.get(name);
  }

  private scan(): Promise<void> {
    this.scanning ??= this.read().finally(() => (this.scanning = undefined));
    return this.scanning;
  }

  private async read(): Promise<void> {
    const found = new Map<string, LoraAdapterFile>();
    let entries: Dirent[];
    try {
      entries = await readdir(this.dir, { withFileTypes: true });
    } catch (err) {
      this.onWarning(`cannot read the LoRA folder ${this.dir}: ${(err as Error).message}`);
      entries = [];
    }
    for (const entry of entries) {
      let candidates: { name: string; path: string }[] = [];
      if (entry.isFile() && entry.name.endsWith(".gguf")) candidates = [{ name: basename(entry.name, ".gguf"), path: join(this.dir, entry.name) }];
      else if (entry.isDirectory()) {
        const inner = await readdir(join(this.dir, entry.name)).catch(() => []);
        candidates = inner.filter((f) => f.endsWith(".gguf")).sort().slice(0, 1).map((f) => ({ name: entry.name, path: join(this.dir, entry.name, f) }));
      }
      for (const c of candidates) {
        const adapter = await this.check(c.name, c.path);
        if (adapter) found.set(adapter.name, adapter);
      }
    }
    this.adapters = found;
    this.scannedAt = performance.now();
  }

  /** An adapter file, if the GGUF header says it is a LoRA adapter for this architecture. */
  private async check(name: string, path: string): Promise<LoraAdapterFile | undefined> {
    const info = await stat(path).catch(() => undefined);
    if (!info) return undefined;
    const known = this.adapters.get(name);
    if (known?.path === path && known.modifiedMs === info.mtimeMs) return known;
    if (this.rejected.get(path) === info.mtimeMs) return undefined;
    let problem: string | undefined;
    try {
      const { metadata } = await readGgufFileInfo(path, { readTensorInfo: false, logWarnings: false });
      const m = metadata as unknown as { general?: { type?: string; architecture?: string }; adapter?: { type?: string } };
      if (m.general?.type !== "adapter" || m.adapter?.type !== "lora") problem = "not a LoRA adapter (general.type and adapter.type must be adapter and lora)";
      else if (this.architecture && m.general.architecture !== this.architecture) problem = `an adapter for ${m.general.architecture}, but the model is ${this.architecture}`;
    } catch (err) {
      problem = `not a readable GGUF file (${(err as Error).message.split("\n")[0]})`;
    }
    if (problem) {
      this.rejected.set(path, info.mtimeMs);
      this.onWarning(`skipping ${path}: ${problem}`);
      return undefined;
    }
    return { name, path, modifiedMs: info.mtimeMs };
  }
}
