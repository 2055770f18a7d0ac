/**
 * Turns generated tokens into text that is safe to stream: only complete UTF-8 characters
 * are released, and text that may be the beginning of a stop string is held back until it
 * is known not to be one. The concatenation of everything released equals the text of the
 * whole generation (cut at the stop string), so streamed and non-streamed output agree.
 */

const REPLACEMENT = "\uFFFD";

/**
 * Incremental detokenizer (the prefix/read offset scheme vLLM uses): the text of a window
 * of tokens is decoded as a whole, and released only when it does not end in an incomplete
 * character (which decodes to U+FFFD).
 */
export class IncrementalDetokenizer {
  private tokens: number[] = [];
  private prefixOffset = 0;
  private readOffset = 0;

  constructor(private readonly decode: (tokens: number[]) => string) {}

  /** Adds a token; returns the newly completed text (possibly empty). */
  push(token: number): string {
    this.tokens.push(token);
    return this.release(false);
  }

  /** Releases whatever is held back (incomplete characters become U+FFFD). */
  flush(): string {
    return this.release(true);
  }

  private release(final: boolean): string {
    const prefixText = this.decode(this.tokens.slice(this.prefixOffset, this.readOffset));
    const fullText = this.decode(this.tokens.slice(this.prefixOffset));
    if (fullText.length > prefixText.length && (final || !fullText.endsWith(REPLACEMENT)) && fullText.startsWith(prefixText)) {
      this.prefixOffset = this.readOffset;
      this.readOffset = this.tokens.length;
      return fullText.slice(prefixText.length);
    }
    return "";
  }
}

/**
 * Finds stop strings in streamed text. Text is released only once it cannot be part of a
 * stop string; when one matches, the text before it is released and the rest dropped.
 */
export class StopMatcher {
  private held = "";
  stopped = false;
  /** The stop string that ended the text, once one has. */
  matched: string | undefined;

  constructor(private readonly stops: string[]) {}

  /** Adds text; returns what can be released now. */
  push(text: string): string {
    if (this.stopped) return "";
    if (this.stops.length === 0) return text;
    this.held += text;
    let cut = -1;
    for (const s of this.stops) {
      const i = this.held.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) { cut = i; this.matched = s; }
    }
    if (cut >= 0) {
      this.stopped = true;
      const out = this.held.slice(0, cut);
      this.held = "";
      return out;
    }
    // Hold back the longest suffix that is a prefix of some stop string.
    let keep = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.held.length); k > keep; k--) {
        if (this.held.endsWith(s.slice(0, k))) { keep = k; break; }
      }
    }
    const out = this.held.slice(0, this.held.length - keep);
    this.held = this.held.slice(this.held.length - keep);
    return out;
  }

  /** Releases held text at the end of generation. */
  flush(): string {
    const out = this.stopped ? "" : this.held;
    this.held = "";
    return out;
  }
}
