/**
 * Where llama.cpp's log lines go. node-llama-cpp prints them on the console; Nimble routes them
 * through one sink instead (a server sets its logger: `setLlamaLogSink`), and lowers to debug what
 * llama.cpp logs as an error for a failure Nimble already reports to the client: a grammar that
 * does not parse is a 400 naming the reason (grammar.ts), not a server error.
 *
 * node-llama-cpp 3.21.1 loses this logger when a second Llama instance is created (each one
 * registers its logger again, and the first registration's cleanup then unsets the new one), so
 * Nimble makes one instance per process (llama-instance.ts). grammar.ts also captures llama.cpp's
 * raw output while a grammar compiles, whichever way it comes.
 */
import { LlamaLogLevel } from "node-llama-cpp";

export type LlamaLogSinkLevel = "debug" | "info" | "warn" | "error";
export type LlamaLogSink = (level: LlamaLogSinkLevel, message: string) => void;

/** Without a server's logger: warnings and errors on stderr, as node-llama-cpp prints them. */
const stderrSink: LlamaLogSink = (level, message) => {
  if (level === "warn" || level === "error") process.stderr.write(`[node-llama-cpp] ${message}\n`);
};

let sink: LlamaLogSink = stderrSink;

/** Sends llama.cpp's log lines to `next` (the most recently started server's logger); undefined: back to stderr. */
export function setLlamaLogSink(next: LlamaLogSink | undefined): void {
  sink = next ?? stderrSink;
}

/** llama.cpp messages about a failure the client is told about (a 400): debug, not error. */
const REPORTED_TO_CLIENT = [/^failed to parse grammar$/, /error parsing grammar/, /^unsupported grammar, left recursion detected/];

/** The sink level of a llama.cpp log line. */
export function llamaLogLevel(level: LlamaLogLevel, message: string): LlamaLogSinkLevel {
  if (REPORTED_TO_CLIENT.some((r) => r.test(message))) return "debug";
  if (level === LlamaLogLevel.fatal || level === LlamaLogLevel.error) return "error";
  if (level === LlamaLogLevel.warn) return "warn";
  return level === LlamaLogLevel.info ? "info" : "debug";
}

/** The `logger` option of every `getLlama` call in Nimble. node-llama-cpp may join several lines of llama.cpp's into one message: each is judged alone. */
export function llamaLogger(level: LlamaLogLevel, message: string): void {
  for (const line of message.split("\n")) {
    const text = line.trimEnd();
    if (text.length > 0) sink(llamaLogLevel(level, text), text);
  }
}
