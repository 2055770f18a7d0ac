/**
 * Run by grammar-errors.test.ts in a child process: compiles grammars that do not parse (and one
 * that does) with the engine's getLlama options, one or two Llama instances, and writes the errors
 * and what reached the llama.cpp log sink to the file named by argv[3].
 */
import { writeFileSync } from "node:fs";
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { GrammarCache } from "../src/engine/grammar.js";
import { llamaLogger, setLlamaLogSink, type LlamaLogSinkLevel } from "../src/engine/llama-log.js";

const logged: { level: LlamaLogSinkLevel; message: string }[] = [];
setLlamaLogSink((level, message) => logged.push({ level, message }));
const options = { gpu: false as const, logLevel: LlamaLogLevel.error, logger: llamaLogger, progressLogs: false };
const llama = await getLlama(options);
// A second instance, as a server with two models has: node-llama-cpp's JavaScript logger is then lost.
if (process.argv[2] === "two") await getLlama(options);
await new Promise((r) => setTimeout(r, 100));
const cache = new GrammarCache(llama);
const errors: (string | null)[] = [];
for (const grammar of ["root ::= missing-rule", "root ::= (", "root ::= root"]) {
  try {
    await cache.prepare({ kind: "gbnf", grammar });
    errors.push(null);
  } catch (err) {
    errors.push((err as Error).message);
  }
}
const ok = (await cache.prepare({ kind: "gbnf", grammar: 'root ::= "a"' })).gbnf;
await new Promise((r) => setTimeout(r, 300));
writeFileSync(process.argv[3]!, JSON.stringify({ errors, ok, logged }));
