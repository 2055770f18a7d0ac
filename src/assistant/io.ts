/** Line-based terminal input and output for the assistant: answers from stdin (a terminal or a script). */
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";
import type { Io } from "./execute.js";

/** Reads answers line by line; once input ends, every question gets undefined. */
export function lineIo(input: Readable, output: Writable): Io & { close(): void } {
  const lines: string[] = [];
  const waiting: ((line: string | undefined) => void)[] = [];
  let ended = false;
  const rl = createInterface({ input, terminal: false });
  rl.on("line", (line) => {
    const next = waiting.shift();
    if (next) next(line);
    else lines.push(line);
  });
  rl.on("close", () => {
    ended = true;
    for (const w of waiting.splice(0)) w(undefined);
  });
  return {
    say: (text) => output.write(`${text}\n`),
    ask(question) {
      output.write(question);
      if (lines.length > 0) {
        const line = lines.shift()!;
        if (!(input as { isTTY?: boolean }).isTTY) output.write(`${line}\n`);
        return Promise.resolve(line);
      }
      if (ended) return Promise.resolve(undefined);
      return new Promise((resolve) => waiting.push((line) => {
        if (line !== undefined && !(input as { isTTY?: boolean }).isTTY) output.write(`${line}\n`);
        resolve(line);
      }));
    },
    close: () => rl.close(),
  };
}
