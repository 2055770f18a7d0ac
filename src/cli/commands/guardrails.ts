/** `nimble guardrails eval`: scores a guardrails configuration's rails on a labelled JSONL set, in-process. */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { resolveOptions } from "../../config.js";
import { EmbeddingEngine } from "../../engine/embedding-engine.js";
import { LlamaEngine } from "../../engine/llama-engine.js";
import { loadGuardrailsFile } from "../../guardrails/config.js";
import { evaluate, formatReport, parseDataset } from "../../guardrails/eval.js";
import { Guardrails } from "../../guardrails/guardrails.js";
import type { RailModels } from "../../guardrails/types.js";

export function registerGuardrails(program: Command): void {
  const guardrails = program.command("guardrails").description("Guardrails tools.");
  guardrails
    .command("eval")
    .description("Precision, recall, F1, false-positive rate per rail and the added latency (p50/p99) of a configuration on a labelled JSONL set.")
    .requiredOption("--config <id>", "the configuration to evaluate")
    .requiredOption("--dataset <file>", "labelled JSONL: {\"text\": ..., \"labels\": {\"<rail name or kind>\": true|false}, \"stage\"?: input|output|retrieval}")
    .option("--guardrails <file>", "the guardrails file (default: --guardrails / NIMBLE_GUARDRAILS)")
    .option("--model <gguf>", "a chat model GGUF for the model-based rails (guard model, self-check, perplexity); without it they are skipped")
    .option("--embedding-model <gguf>", "an embedding model GGUF for topic rails; without it they are skipped")
    .option("--threads <n>", "CPU threads for the models", (v) => Number(v), 0)
    .option("--json", "print the report as JSON")
    .action(async (o: { config: string; dataset: string; guardrails?: string; model?: string; embeddingModel?: string; threads: number; json?: boolean }) => {
      const file = o.guardrails ?? resolveOptions(["guardrails"]).guardrails;
      if (!file) throw new Error("no guardrails file: pass --guardrails <file> or set NIMBLE_GUARDRAILS");
      const g = new Guardrails(loadGuardrailsFile(file));
      let text: string;
      try {
        text = readFileSync(o.dataset, "utf8");
      } catch (err) {
        throw new Error(`cannot read the dataset ${o.dataset}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const rows = parseDataset(text, o.dataset);
      const threads = o.threads > 0 ? o.threads : undefined;
      const chat = o.model ? await LlamaEngine.load({ modelPath: o.model, servedName: "eval", parallel: 4, maxQueue: 64, ...(threads ? { threads } : {}) }) : undefined;
      const embedder = o.embeddingModel ? await EmbeddingEngine.load({ modelPath: o.embeddingModel, servedName: "eval-embedding", ...(threads ? { threads } : {}) }) : undefined;
      const models: RailModels = {
        chat: async () => { if (!chat) throw new Error("no --model"); return chat; },
        embedding: async () => { if (!embedder) throw new Error("no --embedding-model"); return embedder; },
      };
      try {
        const report = await evaluate(g, o.config, rows, models, { chat: chat !== undefined, embedding: embedder !== undefined });
        process.stdout.write(`${o.json ? JSON.stringify(report, null, 2) : formatReport(report)}\n`);
      } finally {
        await chat?.close();
        await embedder?.close();
      }
    });
}
