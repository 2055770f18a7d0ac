/**
 * Output rails on a generation. Streamed: the text is checked in chunks (chunk_size tokens, with
 * context_size tokens of what came before), either sent first and checked after (stream_first) or
 * held until its chunk passes. Not streamed: the whole answer is checked once. A block stops the
 * generation and ends it with finish reason "content_filter"; when nothing fires the streamed
 * pieces concatenate to exactly the generated text.
 */
import type { GenerationPiece, GenerationResult, GenerationStream, TokenLogprob } from "../engine/types.js";
import type { GuardSession } from "./guardrails.js";

/** The generation's finish reasons plus the one a block gives. */
export type GuardedResult = Omit<GenerationResult, "finishReason"> & { finishReason: GenerationResult["finishReason"] | "content_filter" };

export interface OutputGuardOptions {
  /** Whether the caller iterates the pieces (a streamed response) or only awaits the result. */
  streaming: boolean;
  /** Tokens in a text (chunk sizes are in tokens). */
  countTokens(text: string): number;
  /** Stops the underlying generation (after a block). */
  abort(): void;
}

function merge(pieces: GenerationPiece[]): GenerationPiece {
  const logprobs: TokenLogprob[] = pieces.flatMap((p) => p.logprobs ?? []);
  return { text: pieces.map((p) => p.text).join(""), ...(logprobs.length > 0 ? { logprobs } : {}) };
}

export class GuardedStream implements GenerationStream {
  readonly started: Promise<void>;
  readonly result: Promise<GenerationResult>;
  /** Set when an output rail blocked the answer. */
  blocked = false;
  private sent = "";
  private iterationDone!: () => void;
  private iterationFailed!: (err: unknown) => void;

  constructor(private readonly inner: GenerationStream, private readonly session: GuardSession, private readonly options: OutputGuardOptions) {
    this.started = inner.started;
    const iterated = new Promise<void>((resolve, reject) => { this.iterationDone = resolve; this.iterationFailed = reject; });
    iterated.catch(() => {});
    this.result = (options.streaming ? this.streamedResult(iterated) : this.wholeResult()) as Promise<GenerationResult>;
    this.result.catch(() => {});
  }

  private async wholeResult(): Promise<GuardedResult> {
    const r = await this.inner.result;
    if (r.finishReason === "abort") return r;
    const check = await this.session.checkOutput(r.text, true);
    if (check.blocked) {
      this.blocked = true;
      return { ...r, text: this.session.config.refusal, finishReason: "content_filter" };
    }
    return { ...r, text: this.session.unmask(check.texts[0]!.text) };
  }

  private async streamedResult(iterated: Promise<void>): Promise<GuardedResult> {
    const r = await this.inner.result;
    // Never iterated (the request was cancelled before streaming began): nothing was checked or sent.
    if (r.finishReason === "abort" && !this.blocked && this.sent.length === 0) return r;
    await iterated;
    return this.blocked ? { ...r, text: this.sent, finishReason: "content_filter" } : { ...r, text: this.sent };
  }

  async *[Symbol.asyncIterator](): AsyncIterator<GenerationPiece> {
    const { chunk_size: chunkSize, context_size: contextSize, stream_first: streamFirst } = this.session.config.streaming;
    const unmasking = this.session.config.mask.unmask_output && this.session.vault.size > 0;
    let pending: GenerationPiece[] = [];
    let pendingTokens = 0;
    /** Checked text kept as context for the next chunk: [text, tokens] pairs. */
    let context: [string, number][] = [];
    let held = ""; // unmasking: a tail that may be the start of a placeholder

    const out = (text: string, logprobs?: TokenLogprob[]): GenerationPiece | undefined => {
      let t = text;
      if (unmasking) {
        t = held + t;
        const keep = this.session.vault.partialTail(t);
        held = t.slice(t.length - keep);
        t = this.session.vault.unmask(t.slice(0, t.length - keep));
      }
      if (t.length === 0 && !logprobs?.length) return undefined;
      this.sent += t;
      return logprobs?.length ? { text: t, logprobs } : { text: t };
    };

    /** Checks the pending chunk with its context; returns the text to send (masked), or undefined when blocked. */
    const checkChunk = async (last: boolean): Promise<string | undefined> => {
      const chunk = merge(pending).text;
      const before = context.map(([t]) => t).join("");
      const check = await this.session.checkOutput(before + chunk, false);
      let whole = check;
      if (!check.blocked && last) whole = await this.session.checkWholeOutput(streamFirst ? this.sent : this.sent + chunk);
      if (check.blocked || whole.blocked) return undefined;
      const masked = check.texts[0]!.text;
      const text = masked.startsWith(before) ? masked.slice(before.length) : masked.slice(Math.min(before.length, masked.length));
      context.push([text, pendingTokens]);
      let tokens = context.reduce((n, [, k]) => n + k, 0);
      while (context.length > 1 && tokens - context[0]![1] >= contextSize) { tokens -= context[0]![1]; context.shift(); }
      if (contextSize === 0) context = [];
      return text;
    };

    const block = () => {
      this.blocked = true;
      this.options.abort();
    };

    try {
      for await (const piece of this.inner) {
        const tokens = piece.logprobs?.length || this.options.countTokens(piece.text) || 1;
        pending.push(piece);
        pendingTokens += tokens;
        if (streamFirst) {
          const p = out(piece.text, piece.logprobs);
          if (p) yield p;
        }
        if (pendingTokens < chunkSize) continue;
        const text = await checkChunk(false);
        if (text === undefined) { block(); break; }
        if (!streamFirst) {
          const p = out(text, merge(pending).logprobs);
          if (p) yield p;
        }
        pending = [];
        pendingTokens = 0;
      }
      if (!this.blocked) {
        const r = await this.inner.result;
        if (r.finishReason !== "abort") {
          const text = pending.length > 0 ? await checkChunk(true) : (await this.session.checkWholeOutput(this.sent)).blocked ? undefined : "";
          if (text === undefined) block();
          else if (!streamFirst && text.length > 0) {
            const p = out(text, merge(pending).logprobs);
            if (p) yield p;
          }
        }
        if (!this.blocked && held.length > 0) {
          this.sent += held;
          yield { text: held };
        }
      }
      this.iterationDone();
    } catch (err) {
      this.iterationFailed(err);
      throw err;
    }
  }
}
