/**
 * Run by llama-instance.test.ts in a child process: a chat engine and an embedding engine in one
 * process (as a server with both kinds of model has), then a LoRA adapter that fails to load. Writes
 * what reached the llama.cpp log sink to the file named by argv[2].
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { EmbeddingEngine } from "../src/engine/embedding-engine.js";
import { LlamaEngine } from "../src/engine/llama-engine.js";
import { setLlamaLogSink, type LlamaLogSinkLevel } from "../src/engine/llama-log.js";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { tempDir, tinyModelPath } from "./helpers.js";

const logged: { level: LlamaLogSinkLevel; message: string }[] = [];
setLlamaLogSink((level, message) => logged.push({ level, message }));
const dir = tempDir();
const embeddingPath = join(dir, "embedding.gguf");
await generateModel(embeddingPath, { shape: PRESETS.embedding, seed: 1 });
const chat = await LlamaEngine.load({ modelPath: await tinyModelPath(), servedName: "tiny", parallel: 1, maxQueue: 4, threads: 1, gpu: "cpu" });
const embedding = await EmbeddingEngine.load({ modelPath: embeddingPath, servedName: "embedding", threads: 1, gpu: "cpu" });
// node-llama-cpp dropped the logger a moment after a second instance registered its own: let that pass.
await new Promise((r) => setTimeout(r, 200));
// A LoRA adapter that is not one (half of a model file): llama.cpp logs why it cannot load it,
// through the chat engine's own Llama (no new instance is made here).
const whole = readFileSync(await tinyModelPath());
const broken = join(dir, "broken.gguf");
writeFileSync(broken, whole.subarray(0, whole.length >> 1));
let error = "";
try {
  await chat.loadAdapter(broken);
} catch (err) {
  error = (err as Error).message;
}
await new Promise((r) => setTimeout(r, 200));
await embedding.close();
await chat.close();
writeFileSync(process.argv[2]!, JSON.stringify({ error, logged }));
