/**
 * Choosing an upstream for a request. The `score` strategy adds weighted scorers, as llm-d's
 * scheduler does, and the highest total wins (ties broken at random):
 *
 *   total = w_prefix·prefix + w_load·(1 − load) + w_session·session + w_lora·lora
 *
 * - prefix: the share of the prompt's leading blocks this upstream was recently sent (0–1);
 * - load: (running + waiting) / capacity, from the upstream's gauges or this router's requests in
 *   flight there, whichever is larger. It is not capped, so an upstream past its capacity keeps losing
 *   score and a hot prefix spills over to an idle upstream once its holder is loaded enough (as the
 *   load term of Dynamo's cost formula does);
 * - session: 1 on the upstream the session (header or `user`) hashes to by rendezvous hashing, else 0;
 * - lora: 1 where the requested LoRA adapter was served in the last minute (it is loaded there), else 0.
 *
 * Defaults: prefix 3, load 2 (llm-d's defaults for its prefix-cache and queue scorers), session 2, lora 1.
 * `round-robin` takes each available upstream in turn: the baseline.
 */
import type { Upstream } from "./upstream.js";

export interface Weights {
  prefix: number;
  load: number;
  session: number;
  lora: number;
}

export interface RequestFeatures {
  /** Chained block hashes of the prompt (empty: no prefix signal). */
  blocks: readonly number[];
  session: string | undefined;
  /** The model is a LoRA adapter (its card has a parent). */
  adapter: string | undefined;
}

export interface UpstreamScore {
  name: string;
  prefix: number;
  load: number;
  session: number;
  lora: number;
  total: number;
}

export interface Decision {
  chosen: Upstream;
  scores: UpstreamScore[];
}

const ADAPTER_RECENT_MS = 60_000;

/** Rendezvous (highest random weight) hashing: the upstream a session belongs to among these. */
export function sessionOwner(session: string, names: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestHash = -1;
  for (const name of names) {
    let h = 0x811c9dc5;
    const key = `${session}\u0000${name}`;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
    if (h > bestHash) [best, bestHash] = [name, h];
  }
  return best;
}

export function scoreUpstreams(candidates: readonly Upstream[], f: RequestFeatures, w: Weights, now = Date.now()): UpstreamScore[] {
  const owner = f.session !== undefined ? sessionOwner(f.session, candidates.map((u) => u.name)) : undefined;
  return candidates.map((u) => {
    const prefix = f.blocks.length > 0 && w.prefix > 0 ? u.prefixes.match(f.blocks) / f.blocks.length : 0;
    const l = u.load();
    const load = (l.running + l.waiting) / l.capacity;
    const session = owner === u.name ? 1 : 0;
    const seen = f.adapter !== undefined ? u.recentAdapters.get(f.adapter) : undefined;
    const lora = seen !== undefined && now - seen < ADAPTER_RECENT_MS ? 1 : 0;
    const total = w.prefix * prefix + w.load * (1 - load) + w.session * session + w.lora * lora;
    return { name: u.name, prefix, load, session, lora, total };
  });
}

export class Picker {
  private turn = 0;

  constructor(private readonly strategy: "score" | "round-robin", private readonly weights: Weights, private readonly random: () => number = Math.random) {}

  pick(candidates: readonly Upstream[], f: RequestFeatures): Decision {
    if (this.strategy === "round-robin") {
      const chosen = candidates[this.turn++ % candidates.length]!;
      return { chosen, scores: [] };
    }
    const scores = scoreUpstreams(candidates, f, this.weights);
    let best = -Infinity;
    let ties: number[] = [];
    scores.forEach((s, i) => {
      if (s.total > best + 1e-9) [best, ties] = [s.total, [i]];
      else if (Math.abs(s.total - best) <= 1e-9) ties.push(i);
    });
    const chosen = candidates[ties[Math.floor(this.random() * ties.length)]!]!;
    return { chosen, scores };
  }
}

/** The `x-nimble-route` header: each candidate's total and terms, the chosen one first. */
export function describeScores(scores: readonly UpstreamScore[], chosen: string): string {
  const f = (n: number) => Number(n.toFixed(3)).toString();
  return [...scores]
    .sort((a, b) => (a.name === chosen ? -1 : b.name === chosen ? 1 : b.total - a.total))
    .map((s) => `${s.name};total=${f(s.total)};prefix=${f(s.prefix)};load=${f(s.load)};session=${s.session};lora=${s.lora}`)
    .join(", ");
}
