/**
 * Short generations for the model-based rails, through the engine's own scheduler (a rail is a
 * generation like any other, batched with the traffic; no second model server): greedy, bounded,
 * optionally grammar-constrained, with the logprobs the decisions need.
 */
import type { Engine, GenerationResult, GrammarSpec } from "../engine/types.js";

export interface ShortGeneration {
  grammar?: GrammarSpec;
  maxTokens: number;
  /** Logprobs with this many alternatives per token. */
  top?: number;
  /** Token text → bias (each token whose text equals it). */
  logitBias?: Record<string, number>;
  signal?: AbortSignal;
}

/** The first token of `text` (with and without a leading space): biasing it steers the answer towards the text. */
function tokensOf(engine: Engine, text: string): number[] {
  const ids = new Set<number>();
  for (const variant of [text, ` ${text}`]) {
    const t = engine.tokenize(variant, false);
    if (t.length > 0) ids.add(t[0]!);
  }
  return [...ids];
}

export async function generateShort(engine: Engine, promptTokens: number[], options: ShortGeneration): Promise<GenerationResult> {
  const grammar = options.grammar ? await engine.prepareGrammar(options.grammar) : undefined;
  let logitBias: Map<number, number> | undefined;
  if (options.logitBias) {
    logitBias = new Map();
    for (const [text, bias] of Object.entries(options.logitBias)) for (const id of tokensOf(engine, text)) logitBias.set(id, bias <= -100 ? -Infinity : bias);
  }
  const room = engine.info.contextSize - promptTokens.length - 1;
  if (room < 1) throw new Error(`the rail's prompt (${promptTokens.length} tokens) does not fit the model's context (${engine.info.contextSize})`);
  const stream = engine.generate({
    promptTokens,
    sampling: { temperature: 0, topP: 1, topK: -1, minP: 0, seed: 0, repetitionPenalty: 1, presencePenalty: 0, frequencyPenalty: 0 },
    maxTokens: Math.min(options.maxTokens, room),
    minTokens: 0,
    ignoreEos: false,
    stop: [],
    client: "guardrails",
    ...(grammar ? { grammar } : {}),
    ...(options.top !== undefined ? { logprobs: { top: options.top } } : {}),
    ...(logitBias ? { logitBias } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return stream.result;
}

/** Renders a one-user-turn chat prompt with the model's template (plain text when it has none). */
export function chatPrompt(engine: Engine, text: string): number[] {
  let rendered: string;
  try {
    rendered = engine.applyChatTemplate([{ role: "user", content: text }]);
  } catch {
    rendered = `${text}\n`;
  }
  return engine.tokenize(rendered);
}
