/** A single-consumer async queue of text pieces with a final result: the shape of a GenerationStream. */
import type { GenerationResult, GenerationStream } from "./types.js";

export class GenerationChannel implements GenerationStream {
  private pieces: string[] = [];
  private wake: (() => void) | undefined;
  private done = false;
  private error: unknown;
  readonly result: Promise<GenerationResult>;
  private resolveResult!: (r: GenerationResult) => void;
  private rejectResult!: (e: unknown) => void;

  constructor() {
    this.result = new Promise((resolve, reject) => {
      this.resolveResult = resolve;
      this.rejectResult = reject;
    });
    // A consumer that only iterates must not see an unhandled rejection.
    this.result.catch(() => {});
  }

  push(piece: string): void {
    if (piece.length === 0 || this.done) return;
    this.pieces.push(piece);
    this.notify();
  }

  end(result: GenerationResult): void {
    if (this.done) return;
    this.done = true;
    this.resolveResult(result);
    this.notify();
  }

  fail(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.error = error;
    this.rejectResult(error);
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    for (;;) {
      if (this.pieces.length > 0) {
        yield this.pieces.splice(0, this.pieces.length).join("");
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
