/** A single-consumer async queue of generation pieces with a final result: the shape of a GenerationStream. */
import type { GenerationPiece, GenerationResult, GenerationStream, TokenLogprob } from "./types.js";

export class GenerationChannel implements GenerationStream {
  private pieces: GenerationPiece[] = [];
  private wake: (() => void) | undefined;
  private done = false;
  private error: unknown;
  readonly result: Promise<GenerationResult>;
  readonly started: Promise<void>;
  private resolveResult!: (r: GenerationResult) => void;
  private rejectResult!: (e: unknown) => void;
  private resolveStarted!: () => void;
  private rejectStarted!: (e: unknown) => void;

  constructor() {
    this.result = new Promise((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    this.started = new Promise((resolve, reject) => {
      this.resolveStarted = resolve;
      this.rejectStarted = reject;
    });
    // A consumer that only iterates must not see an unhandled rejection.
    this.result.catch(() => {});
    this.started.catch(() => {});
  }

  /** The generation left the queue and runs. */
  markStarted(): void {
    this.resolveStarted();
  }

  push(text: string, logprobs?: TokenLogprob[]): void {
    if ((text.length === 0 && !logprobs?.length) || this.done) return;
    this.pieces.push(logprobs?.length ? { text, logprobs } : { text });
    this.notify();
  }

  end(result: GenerationResult): void {
    if (this.done) return;
    this.done = true;
    this.resolveStarted();
    this.resolveResult(result);
    this.notify();
  }

  fail(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.error = error;
    this.rejectStarted(error);
    this.rejectResult(error);
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<GenerationPiece> {
    for (;;) {
      if (this.pieces.length > 0) {
        // A slow consumer gets what accumulated as one piece.
        const pieces = this.pieces.splice(0, this.pieces.length);
        const logprobs = pieces.flatMap((p) => p.logprobs ?? []);
        yield { text: pieces.map((p) => p.text).join(""), ...(logprobs.length ? { logprobs } : {}) };
        continue;
      }
      if (this.done) {
        if (this.error !== undefined) throw this.error;
        return;
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }
}
