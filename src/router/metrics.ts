/**
 * The router's own Prometheus metrics (its /v1/metrics): requests by upstream and outcome, retries,
 * routing decisions with the winning score's terms, each upstream's state (ready, draining, breaker,
 * in flight, scraped queue) and the router's queue. Prefixed `nimble_router_`.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { UpstreamScore } from "./scoring.js";
import type { Upstream } from "./upstream.js";

const BREAKER_VALUE = { closed: 0, "half-open": 1, open: 2 } as const;
const TERMS = ["total", "prefix", "load", "session", "lora"] as const;

export class RouterMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({ name: "nimble_router_requests_total", help: "Requests forwarded, by upstream and HTTP status class (or 'aborted' when the client left, 'failed' when the upstream broke mid-response).", labelNames: ["upstream", "outcome"], registers: [this.registry] });
  private readonly retries = new Counter({ name: "nimble_router_retries_total", help: "Attempts that failed before their first byte and were retried elsewhere, by upstream and reason.", labelNames: ["upstream", "reason"], registers: [this.registry] });
  private readonly decisions = new Counter({ name: "nimble_router_routing_decisions_total", help: "Upstreams chosen, by strategy.", labelNames: ["upstream", "strategy"], registers: [this.registry] });
  private readonly prefixMatch = new Histogram({ name: "nimble_router_prefix_match_ratio", help: "Share of the prompt's blocks the chosen upstream was thought to hold.", buckets: [0, 0.1, 0.25, 0.5, 0.75, 0.9, 1], registers: [this.registry] });
  /** The last chosen score per upstream, turned into gauges only when scraped (not five label lookups per request). */
  private readonly lastScores = new Map<string, UpstreamScore>();
  private readonly chosenScore = new Gauge({
    name: "nimble_router_last_score", help: "The last chosen upstream's score terms (total, prefix, load, session, lora).", labelNames: ["upstream", "term"], registers: [this.registry],
    collect: () => {
      for (const [upstream, score] of this.lastScores) for (const term of TERMS) this.chosenScore.set({ upstream, term }, score[term]);
    },
  });
  private readonly overhead = new Histogram({ name: "nimble_router_routing_seconds", help: "The router's own time per attempt, from the request's arrival (its first hook) to forwarding: authentication, limits, body parsing, queue wait, scoring.", buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 1, 10], registers: [this.registry] });
  readonly queueWaiting = new Gauge({ name: "nimble_router_queue_waiting", help: "Requests waiting in the router's queue.", registers: [this.registry] });
  readonly queueRejected = new Counter({ name: "nimble_router_queue_rejected_total", help: "Requests refused because the router's queue was full (429) or the wait too long (503).", labelNames: ["reason"], registers: [this.registry] });

  constructor(upstreams: readonly Upstream[]) {
    const gauge = (name: string, help: string, read: (u: Upstream) => number | undefined) =>
      new Gauge({
        name, help, labelNames: ["upstream"], registers: [this.registry],
        collect(this: Gauge) {
          this.reset();
          for (const u of upstreams) {
            const v = read(u);
            if (v !== undefined) this.set({ upstream: u.name }, v);
          }
        },
      });
    gauge("nimble_router_upstream_ready", "1 when the upstream's health check passed at the last refresh.", (u) => (u.ready ? 1 : 0));
    gauge("nimble_router_upstream_draining", "1 while the upstream says it is shutting down.", (u) => (u.draining ? 1 : 0));
    gauge("nimble_router_upstream_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open.", (u) => BREAKER_VALUE[u.breaker.state]);
    gauge("nimble_router_upstream_in_flight", "Requests this router has in flight at the upstream.", (u) => u.inFlight);
    gauge("nimble_router_upstream_requests_waiting", "The upstream's num_requests_waiting at the last scrape.", (u) => u.scraped?.waiting);
    gauge("nimble_router_upstream_requests_running", "The upstream's num_requests_running at the last scrape.", (u) => u.scraped?.running);
    gauge("nimble_router_upstream_models", "Models the upstream serves.", (u) => u.models.size);
    gauge("nimble_router_upstream_prefix_blocks", "Prompt block hashes remembered for the upstream.", (u) => u.prefixes.size);
  }

  decided(upstream: string, strategy: string, score: UpstreamScore | undefined, overheadMs: number): void {
    this.decisions.inc({ upstream, strategy });
    this.overhead.observe(overheadMs / 1000);
    if (!score) return;
    this.prefixMatch.observe(score.prefix);
    this.lastScores.set(upstream, score);
  }

  finished(upstream: string, outcome: string): void {
    this.requests.inc({ upstream, outcome });
  }

  retried(upstream: string, reason: string): void {
    this.retries.inc({ upstream, reason });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
