/** `nimble gen-model`: write a random-weight GGUF (chat, embedding or reranker) for tests, demos and benchmarks. */
import { stat } from "node:fs/promises";
import type { Command } from "commander";
import { generateLora, generateModel, parameterCount, PRESETS, type ModelShape, type PresetName } from "../../models/generate.js";
import { formatBytes } from "../progress.js";

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got "${v}"`);
  return n;
};

/** llama.cpp's pooling types (llama.h enum llama_pooling_type), written as llama.pooling_type. */
const POOLING_TYPES: Record<string, number> = { none: 0, mean: 1, cls: 2, last: 3, rank: 4 };

export function registerGenModel(program: Command): void {
  program
    .command("gen-model")
    .description("Write a deterministic GGUF with random weights (output is gibberish): a llama chat model, a llama embedding model (--preset embedding) or a BERT reranker (--preset reranker).")
    .requiredOption("-o, --out <path>", "file to write")
    .option("--preset <name>", `shape preset: ${Object.keys(PRESETS).join(", ")}`, "tiny")
    .option("--seed <n>", "random seed (same seed, same bytes)", int("seed"), 42)
    .option("--embedding-size <n>", "embedding size", int("embedding-size"))
    .option("--layers <n>", "transformer blocks", int("layers"))
    .option("--heads <n>", "attention heads", int("heads"))
    .option("--kv-heads <n>", "key/value heads", int("kv-heads"))
    .option("--ff-size <n>", "feed-forward size", int("ff-size"))
    .option("--vocab-size <n>", "vocabulary size (at least 259)", int("vocab-size"))
    .option("--context-length <n>", "training context length", int("context-length"))
    .option("--type <type>", "tensor type: F32, F16 or Q8_0")
    .option("--lora", "write a LoRA adapter for a model of this shape instead of the model")
    .option("--lora-rank <n>", "rank of the LoRA adapter", int("lora-rank"), 8)
    .option("--pooling <type>", `pooling for an embedding model: ${Object.keys(POOLING_TYPES).join(", ")} (default: none written)`)
    .action(async (o: Record<string, string | number | undefined>) => {
      const preset = PRESETS[o.preset as PresetName];
      if (!preset) throw new Error(`unknown preset "${o.preset}"; choose one of ${Object.keys(PRESETS).join(", ")}`);
      if (o.type !== undefined && !["F32", "F16", "Q8_0"].includes(String(o.type).toUpperCase())) throw new Error(`--type must be F32, F16 or Q8_0, got "${o.type}"`);
      const pooling = o.pooling === undefined ? undefined : POOLING_TYPES[String(o.pooling).toLowerCase()];
      if (o.pooling !== undefined && pooling === undefined) throw new Error(`--pooling must be one of ${Object.keys(POOLING_TYPES).join(", ")}, got "${o.pooling}"`);
      const shape: ModelShape = {
        ...("kind" in preset ? { kind: preset.kind } : {}),
        embeddingSize: (o.embeddingSize as number) ?? preset.embeddingSize,
        layers: (o.layers as number) ?? preset.layers,
        heads: (o.heads as number) ?? preset.heads,
        kvHeads: (o.kvHeads as number) ?? preset.kvHeads,
        feedForwardSize: (o.ffSize as number) ?? preset.feedForwardSize,
        vocabSize: (o.vocabSize as number) ?? preset.vocabSize,
        contextLength: (o.contextLength as number) ?? preset.contextLength,
        tensorType: (o.type ? String(o.type).toUpperCase() : preset.tensorType) as ModelShape["tensorType"],
      };
      const started = Date.now();
      if (o.lora) {
        await generateLora(String(o.out), { shape, seed: o.seed as number, rank: o.loraRank as number, name: `nimble-${o.preset}-lora` });
        const size = (await stat(String(o.out))).size;
        process.stdout.write(`wrote ${o.out}: LoRA adapter (rank ${o.loraRank}) for the ${o.preset} shape, ${formatBytes(size)} in ${Date.now() - started} ms\n`);
        return;
      }
      await generateModel(String(o.out), { shape, seed: o.seed as number, name: `nimble-${o.preset}`, ...(pooling !== undefined ? { poolingType: pooling } : {}) });
      const size = (await stat(String(o.out))).size;
      process.stdout.write(`wrote ${o.out}: ${shape.kind ?? "chat"} model, ${(parameterCount(shape) / 1e6).toFixed(2)}M parameters, ${shape.tensorType}, ${formatBytes(size)} in ${Date.now() - started} ms\n`);
    });
}
