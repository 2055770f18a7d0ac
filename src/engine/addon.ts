/**
 * Nimble's optional native addon (native/: built by `npm ci` / `npm run build:native`): a
 * persistent thread pool for node-llama-cpp contexts (threadpool.ts) and batched embeddings
 * (embedding-batch.ts). It reaches node-llama-cpp's native objects at offsets checked for one
 * version, so it is used only with that version; without it Nimble works, more slowly.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { SUPPORTED_NODE_LLAMA_CPP } from "./native.js";

export interface NimbleAddon {
  attach(context: unknown, model: unknown, sequences: number, threads: number, poll: number): { attached: boolean; handle?: bigint; reason?: string };
  detach(context: unknown, model: unknown, sequences: number, handle: bigint): boolean;
  /** Before init(): asks for token embeddings on a context created with embeddings: true and these sizes; a reason when it cannot. */
  prepareEmbeddingContext?(context: unknown, model: unknown, contextSize: number, batchSize: number, sequences: number): string | undefined;
  /** After init(): the KV cells of each sequence, or why the context is not the prepared one. */
  embeddingContextInfo?(context: unknown, model: unknown, sequences: number): { cellsPerSequence: number } | string;
  /** After a decode: pools each input's tokens (batch indexes [first, first + length)) into out. */
  readEmbeddings?(context: unknown, model: unknown, sequences: number, first: Int32Array, lengths: Int32Array, pooling: number, out: Float32Array): string | undefined;
  /** A sequence's state (llama_state_seq_get_data). Throws on a context that is not the expected one. */
  seqStateGet?(context: unknown, model: unknown, sequences: number, sequence: number): Buffer;
  /** Loads a state into a sequence; bytes read, 0 when llama.cpp refused it. */
  seqStateSet?(context: unknown, model: unknown, sequences: number, sequence: number, state: Buffer): number;
  /** Makes `to` a copy of all of `from`'s KV cells (llama_memory_seq_cp). */
  seqCopy?(context: unknown, model: unknown, sequences: number, from: number, to: number): boolean;
  /** The first token with the highest logit in an output row of the last decode; -1 when the row cannot be read. */
  greedyToken?(context: unknown, model: unknown, sequences: number, outputIndex: number): number;
  /** Sends file descriptors 1 and 2 to temporary files until outputCaptureEnd(); false when it could not (or a capture is on). */
  outputCaptureStart?(): boolean;
  /** Restores stdout and stderr and returns what was written to each since outputCaptureStart() (at most 64 KiB each). */
  outputCaptureEnd?(): [string, string];
}

const require = createRequire(import.meta.url);

function nodeLlamaCppVersion(): string | undefined {
  // The package's exports map hides package.json: walk up from its entry point.
  let dir = dirname(require.resolve("node-llama-cpp"));
  for (let i = 0; i < 4; i++, dir = dirname(dir)) {
    const path = join(dir, "package.json");
    if (!existsSync(path)) continue;
    const pkg = JSON.parse(readFileSync(path, "utf8")) as { name?: string; version?: string };
    if (pkg.name === "node-llama-cpp") return pkg.version;
  }
  return undefined;
}

let loaded: NimbleAddon | string | undefined;

/** The addon, or why it cannot be used (not built, or another node-llama-cpp version). */
export function loadAddon(): NimbleAddon | string {
  if (loaded !== undefined) return loaded;
  const version = nodeLlamaCppVersion();
  if (version !== SUPPORTED_NODE_LLAMA_CPP) return (loaded = `node-llama-cpp ${version ?? "unknown"} is not ${SUPPORTED_NODE_LLAMA_CPP}`);
  try {
    loaded = require("../../../native/build/Release/nimble_threadpool.node") as NimbleAddon;
  } catch (err) {
    loaded = `the native addon is not built (${(err as Error).message.split("\n")[0]}); run npm run build:native`;
  }
  return loaded;
}
