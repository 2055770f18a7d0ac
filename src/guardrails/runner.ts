/**
 * Runs the rails of one stage concurrently over a list of texts and combines their outcomes:
 * blocked if a blocking rail fired (or failed closed), the texts masked where masking rails found
 * spans, and NeMo's per-rail status with latency.
 */
import { ENTITY_LABELS, resolveOverlaps, type PiiEntity } from "./pii.js";
import type { ActivatedRail, CheckedText, Finding, Rail, RailContext, RailObserver, RailReport, Span, StageResult } from "./types.js";

/**
 * Placeholders for masked values. "label": [EMAIL]. "stable": [EMAIL_1], the same for the same
 * value within a request, so the model's answer can have the values put back (unmask).
 */
export class MaskVault {
  private readonly byValue = new Map<string, string>();
  private readonly byPlaceholder = new Map<string, string>();
  private readonly counts = new Map<string, number>();

  constructor(readonly style: "label" | "stable") {}

  placeholder(label: string, value: string): string {
    const tag = (ENTITY_LABELS[label as PiiEntity] ?? label.toUpperCase().replace(/[^A-Z0-9_]/g, "_")) || "REDACTED";
    if (this.style === "label") return `[${tag}]`;
    const key = `${tag}\u0000${value}`;
    let p = this.byValue.get(key);
    if (!p) {
      const n = (this.counts.get(tag) ?? 0) + 1;
      this.counts.set(tag, n);
      p = `[${tag}_${n}]`;
      this.byValue.set(key, p);
      this.byPlaceholder.set(p, value);
    }
    return p;
  }

  get size(): number {
    return this.byPlaceholder.size;
  }

  /** Puts the original values back where the text has stable placeholders. */
  unmask(text: string): string {
    if (this.byPlaceholder.size === 0) return text;
    return text.replace(/\[[A-Z0-9_]{1,40}_\d{1,6}\]/g, (p) => this.byPlaceholder.get(p) ?? p);
  }

  /** Length of a tail of `text` that may be the start of a placeholder (held back when streaming). */
  partialTail(text: string): number {
    if (this.byPlaceholder.size === 0) return 0;
    const open = text.lastIndexOf("[");
    if (open === -1 || text.length - open > 48 || text.includes("]", open)) return 0;
    return /^\[[A-Z0-9_]*$/.test(text.slice(open)) ? text.length - open : 0;
  }
}

/** Replaces spans with placeholders, per text. */
export function applyMasks(texts: CheckedText[], spans: Span[], vault: MaskVault): CheckedText[] {
  if (spans.length === 0) return texts;
  const byItem = new Map<number, Span[]>();
  for (const s of spans) byItem.set(s.item, [...(byItem.get(s.item) ?? []), s]);
  return texts.map((t, item) => {
    const list = byItem.get(item);
    if (!list) return t;
    let text = t.text;
    for (const s of resolveOverlaps(list).reverse()) text = text.slice(0, s.start) + vault.placeholder(s.label, text.slice(s.start, s.end)) + text.slice(s.end);
    return { ...t, text };
  });
}

/** Runs one rail, timing it; an error becomes status "error" (and a block if it fails closed). */
async function runRail(rail: Rail, texts: CheckedText[], context: RailContext, observer?: RailObserver): Promise<{ rail: Rail; finding?: Finding; report: RailReport; failed: boolean }> {
  const started = performance.now();
  let finding: Finding | undefined;
  let error: unknown;
  try {
    finding = await rail.check(texts, context);
  } catch (err) {
    error = err;
  }
  const latency_ms = Math.round((performance.now() - started) * 1000) / 1000;
  let report: RailReport;
  if (error !== undefined) {
    report = { status: "error", type: rail.type, latency_ms, detail: { error: (error as Error).message ?? String(error), fail: rail.onError } };
  } else if (finding!.fired) {
    const status = rail.action === "block" ? "blocked" : rail.action === "mask" ? "masked" : "logged";
    report = { status, type: rail.type, latency_ms, ...(finding!.detail ? { detail: finding!.detail } : {}) };
  } else {
    report = { status: "success", type: rail.type, latency_ms };
  }
  observer?.onRail?.(rail, report, error);
  return { rail, finding, report, failed: error !== undefined };
}

/** Runs rails concurrently on texts. */
export async function runStage(rails: readonly Rail[], texts: CheckedText[], context: RailContext, vault: MaskVault, observer?: RailObserver): Promise<StageResult> {
  const outcomes = await Promise.all(rails.map((rail) => runRail(rail, texts, context, observer)));
  let blocked = false;
  const spans: Span[] = [];
  const activated: ActivatedRail[] = [];
  const reports: Record<string, RailReport> = {};
  for (const o of outcomes) {
    reports[o.rail.name] = o.report;
    if (o.failed) {
      if (o.rail.onError === "closed") {
        blocked = true;
        activated.push({ name: o.rail.name, type: o.rail.type, action: "block", detail: { error: true } });
      }
      continue;
    }
    if (!o.finding!.fired) continue;
    activated.push({ name: o.rail.name, type: o.rail.type, action: o.rail.action, ...(o.finding!.detail ? { detail: o.finding!.detail } : {}) });
    if (o.rail.action === "block") blocked = true;
    else if (o.rail.action === "mask") spans.push(...(o.finding!.spans ?? []));
  }
  return { blocked, texts: blocked ? texts : applyMasks(texts, spans, vault), rails: reports, activated };
}
