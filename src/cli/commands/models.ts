/** `nimble models ls | inspect | rm`: the model store, and what a GGUF file holds (read from its header, not loaded). */
import type { Command } from "commander";
import { resolveOptions, type OptionName } from "../../config.js";
import { fileExists } from "../../models/download.js";
import { inspectModel, summarizeModel, type ModelDetails, type ModelSummary } from "../../models/inspect.js";
import { ModelStore, type StoreEntry } from "../../models/store.js";
import { addConfigOptions } from "../options.js";
import { formatBytes } from "../progress.js";

const say = (line = "") => process.stdout.write(`${line}\n`);

function storeOf(flags: Partial<Record<OptionName, unknown>>): ModelStore {
  return new ModelStore(resolveOptions(["home"], flags).home);
}

export function registerModels(program: Command): void {
  const models = program.command("models").description("List, inspect and remove the models in the store (the home folder).");

  addConfigOptions(models.command("ls").alias("list").description("List the models in the store."), ["home"])
    .option("--json", "print JSON")
    .action(async (flags: Partial<Record<OptionName, unknown>> & { json?: boolean }) => {
      const store = storeOf(flags);
      const rows: (StoreEntry & { summary?: ModelSummary; error?: string })[] = [];
      for (const entry of await store.list()) {
        try {
          rows.push({ ...entry, summary: await summarizeModel(store.pathOf(entry.files[0]!.path)) });
        } catch (err) {
          rows.push({ ...entry, error: (err as Error).message });
        }
      }
      if (flags.json) {
        say(JSON.stringify(rows.map((r) => ({ name: r.name, source: r.source, aliases: r.aliases, path: store.pathOf(r.files[0]!.path), files: r.files, pulledAt: r.pulledAt, lastUsed: r.lastUsed ?? null, ...r.summary, ...(r.error ? { error: r.error } : {}) })), null, 2));
        return;
      }
      if (rows.length === 0) {
        say(`no models in ${store.dir} (nimble pull REF adds one)`);
        return;
      }
      const table = [["NAME", "SIZE", "ARCH", "QUANT", "CONTEXT", "KIND", "LAST USED"]];
      for (const r of rows) {
        const s = r.summary;
        table.push([r.name, formatBytes(s?.sizeBytes ?? r.files.reduce((n, f) => n + f.size, 0)), s?.architecture ?? "unreadable", s?.quantization ?? "-", s?.contextLength ? String(s.contextLength) : "-", s?.kind ?? "-", r.lastUsed ? ago(r.lastUsed) : "never"]);
      }
      printTable(table);
    });

  addConfigOptions(models.command("inspect").description("Show what a model holds, read from its GGUF header without loading it.").argument("<model>", "a name or reference from `nimble models ls`, or a GGUF file path"), ["home"])
    .option("--json", "print JSON")
    .action(async (model: string, flags: Partial<Record<OptionName, unknown>> & { json?: boolean }) => {
      let path = model;
      let entry: StoreEntry | undefined;
      if (!(await fileExists(model))) {
        const store = storeOf(flags);
        entry = await store.find(model);
        path = store.pathOf(entry.files[0]!.path);
      }
      const details = await inspectModel(path);
      if (flags.json) {
        say(JSON.stringify({ path, ...(entry ? { source: entry.source, sha256: entry.files[0]!.sha256 ?? null, lastUsed: entry.lastUsed ?? null } : {}), ...details }, null, 2));
        return;
      }
      printDetails(path, details, entry);
    });

  addConfigOptions(models.command("rm").alias("remove").description("Delete a model from the store.").argument("<model>", "a name or reference from `nimble models ls`"), ["home"])
    .action(async (model: string, flags: Partial<Record<OptionName, unknown>>) => {
      const store = storeOf(flags);
      const entry = await store.find(model);
      const freed = await store.remove(entry);
      say(`removed ${entry.name} (${entry.source}), freed ${formatBytes(freed)}`);
    });
}

function printDetails(path: string, d: ModelDetails, entry: StoreEntry | undefined): void {
  const line = (k: string, v: string) => say(`${k.padEnd(16)}${v}`);
  line("file", `${path}${d.parts > 1 ? ` (+${d.parts - 1} more parts)` : ""}`);
  if (entry) {
    line("source", entry.source);
    if (entry.files[0]!.sha256) line("sha256", entry.files[0]!.sha256);
    line("last used", entry.lastUsed ? ago(entry.lastUsed) : "never");
  }
  if (d.name) line("name", d.name);
  line("kind", d.kind);
  line("architecture", d.architecture);
  line("parameters", formatCount(d.parameters));
  line("size", `${formatBytes(d.sizeBytes)} on disk, ${formatBytes(d.weightsBytes)} of weights`);
  line("quantization", d.quantization);
  line("tensor types", d.tensorTypes.map((t) => `${t.type} ×${t.count}`).join(", "));
  line("shape", [`${d.layers} layers`, d.embeddingLength && `embedding ${d.embeddingLength}`, d.heads && `${d.heads} heads`, d.kvHeads && `${d.kvHeads} KV heads`].filter(Boolean).join(", "));
  line("context length", d.contextLength ? `${d.contextLength} tokens (training)` : "not declared");
  line("chat template", d.chatTemplate ? "present" : "none");
  if (d.poolingType !== undefined) line("pooling type", String(d.poolingType));
  const t = d.tokenizer;
  line("tokenizer", [t.model ?? "unknown", t.pre && `pre-tokenizer ${t.pre}`, t.vocabSize && `${t.vocabSize} tokens`, t.bos && `BOS ${JSON.stringify(t.bos)}`, t.eos && `EOS ${JSON.stringify(t.eos)}`].filter(Boolean).join(", "));
  say("memory          one sequence, on the CPU (weights + KV cache and compute buffers):");
  for (const m of d.memory) say(`  context ${String(m.contextSize).padStart(7)}  ${formatBytes(m.totalBytes).padStart(9)}  (${formatBytes(m.contextBytes)} for the context)`);
}

function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

function ago(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) say(r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
}
