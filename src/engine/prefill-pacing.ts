/**
 * How many prompts a decode step prefills at once, from what steps measurably cost.
 *
 * Batching several prompts' prefill into one step only pays when a step has a fixed cost worth
 * sharing. Where prefill cost grows with the tokens (attention over a long cached prefix on a CPU:
 * ~0.9 ms a token for a 60M model with 450 tokens of context on 2 cores, against ~8 ms for a whole
 * decode step), putting three 40-token prompts in one step makes all three wait for ~120 ms,
 * while one prompt per step gives them their first token after ~40, ~80 and ~120 ms — the same
 * work, a lower median time to first token, and the generating sequences get a token every ~40 ms
 * instead of waiting for the one long step. Where prefill is cheap per token (a GPU, short prompts),
 * a step's fixed cost dominates and prompts keep being batched.
 *
 * The rule (shortest-processing-time scheduling with a setup cost per step): the first prompt in a
 * step is always prefilled; another joins only while prefilling its tokens costs no more than a step
 * itself (prefill ms per token × its tokens ≤ a decode-only step's ms). Until both are measured,
 * prompts are batched as before.
 */
export class PrefillPacing {
  /** Exponentially weighted ms per token of steps that are mostly prefill. */
  private perToken: number | undefined;
  /** Exponentially weighted ms of steps that only decode (one token per generating sequence). */
  private stepMs: number | undefined;

  constructor(private readonly weight = 0.2) {}

  /** What prefilling one token costs, ms (undefined until a mostly-prefill step was seen). */
  get prefillMsPerToken(): number | undefined {
    return this.perToken;
  }

  /** What a decode-only step costs, ms (undefined until one was seen). */
  get decodeStepMs(): number | undefined {
    return this.stepMs;
  }

  /** One decode step's measured time, with how many of its tokens were prompt (prefill) tokens. */
  record(totalTokens: number, prefillTokens: number, ms: number): void {
    if (!(ms >= 0) || totalTokens <= 0) return;
    if (prefillTokens === 0) this.stepMs = this.ewma(this.stepMs, ms);
    // Steps that are mostly prefill tell what prefilling a token costs.
    else if (prefillTokens >= 32 && prefillTokens >= totalTokens / 2) this.perToken = this.ewma(this.perToken, ms / totalTokens);
  }

  /** Whether another prompt's `tokens` should join a step that already prefills one. */
  joins(tokens: number): boolean {
    if (this.perToken === undefined || this.stepMs === undefined) return true;
    return this.perToken * tokens <= this.stepMs;
  }

  private ewma(current: number | undefined, sample: number): number {
    return current === undefined ? sample : current + this.weight * (sample - current);
  }
}
