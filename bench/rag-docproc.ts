/**
 * Times document processing on the retrieval set (bench/data/rag-eval/corpus): extraction and
 * chunking per file, with a generated embedding model's tokenizer (vocabulary only), so ingest time
 * can be split into extract / chunk / embed / index. Run after a build:
 * `node dist/bench/rag-docproc.js [--repeat N]`. Timings on a shared machine are noisy.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { AUTO_CHUNKING, chunkDocument } from "../src/rag/chunk.js";
import { extractDocument } from "../src/rag/extract.js";
import { llamaTokenizer } from "../src/rag/tokenizer.js";
import { generateModel, PRESETS } from "../src/models/generate.js";

const repeat = Number(process.argv[process.argv.indexOf("--repeat") + 1]) || 3;
const dir = join(fileURLToPath(new URL(".", import.meta.url)), "../../bench/data/rag-eval/corpus");
const modelPath = join(tmpdir(), `nimble-docproc-embed-${process.pid}.gguf`);
await generateModel(modelPath, { shape: PRESETS.embedding, seed: 7 });
const llama = await getLlama({ gpu: false, logLevel: LlamaLogLevel.error, progressLogs: false });
const model = await llama.loadModel({ modelPath, vocabOnly: true });
const tokenizer = llamaTokenizer(model);

const byType = new Map<string, { files: number; extractMs: number; chunkMs: number; chunks: number; chars: number }>();
for (let r = 0; r < repeat; r++) {
  for (const name of readdirSync(dir).sort()) {
    const bytes = readFileSync(join(dir, name));
    const t0 = performance.now();
    const doc = await extractDocument(bytes, name);
    const t1 = performance.now();
    const chunks = chunkDocument(doc, tokenizer, AUTO_CHUNKING);
    const t2 = performance.now();
    const ext = name.slice(name.lastIndexOf(".") + 1);
    const row = byType.get(ext) ?? { files: 0, extractMs: 0, chunkMs: 0, chunks: 0, chars: 0 };
    row.files++;
    row.extractMs += t1 - t0;
    row.chunkMs += t2 - t1;
    row.chunks += chunks.length;
    row.chars += doc.sections.reduce((n, s) => n + s.text.length, 0);
    byType.set(ext, row);
  }
}
console.log(`document processing, ${repeat} passes over ${dir}`);
console.log("type   files  extract ms/file  chunk ms/file  chunks/file  chars/file");
let extract = 0;
let chunk = 0;
for (const [ext, r] of [...byType].sort()) {
  extract += r.extractMs;
  chunk += r.chunkMs;
  console.log(`${ext.padEnd(6)} ${String(r.files / repeat).padStart(5)}  ${(r.extractMs / r.files).toFixed(2).padStart(15)}  ${(r.chunkMs / r.files).toFixed(2).padStart(13)}  ${(r.chunks / r.files).toFixed(1).padStart(11)}  ${(r.chars / r.files).toFixed(0).padStart(10)}`);
}
console.log(`total per pass: extract ${(extract / repeat).toFixed(0)} ms, chunk ${(chunk / repeat).toFixed(0)} ms`);
await model.dispose();
