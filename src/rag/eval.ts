/**
 * Retrieval evaluation with BEIR's definitions (BEIR computes them with pytrec_eval, i.e. trec_eval):
 * - recall@k: relevant documents in the top k / all relevant documents of the query;
 * - nDCG@k: graded gains as given in the qrels (trec_eval's linear gain, not 2^rel − 1),
 *   discount log2(rank + 1), normalised by the ideal ranking of the judged documents;
 * - MRR@k: 1 / rank of the first relevant document in the top k (0 if none).
 * A document is relevant when its qrels score is > 0. Scores are averaged over the queries that
 * have at least one relevant document; unlike pytrec_eval (which skips queries missing from the
 * run), a query with no results counts as 0. Repeated document ids in a ranking count once.
 * Inputs are BEIR's files: queries.jsonl ({"_id", "text"} per line) and qrels .tsv
 * (query-id, corpus-id, score; header line optional).
 */
import { z } from "zod";

export type Qrels = Map<string, Map<string, number>>;
export interface EvalQuery {
  id: string;
  text: string;
}

const QueryLine = z.object({ _id: z.union([z.string(), z.number()]).transform(String), text: z.string() }).passthrough();

/** @throws Error naming the line when a line is not a BEIR query. */
export function parseQueries(jsonl: string): EvalQuery[] {
  const out: EvalQuery[] = [];
  jsonl.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`queries line ${i + 1}: not JSON`);
    }
    const parsed = QueryLine.safeParse(value);
    if (!parsed.success) throw new Error(`queries line ${i + 1}: expected {"_id": string, "text": string}`);
    out.push({ id: parsed.data._id, text: parsed.data.text });
  });
  return out;
}

/** @throws Error naming the line when a line is not "query-id, corpus-id, score". */
export function parseQrels(tsv: string): Qrels {
  const qrels: Qrels = new Map();
  tsv.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    const cols = line.split("\t").map((c) => c.trim());
    // BEIR's files start with "query-id corpus-id score"; TREC's have an iteration column (qid 0 docid rel).
    const [qid, docid, score] = cols.length === 4 ? [cols[0], cols[2], cols[3]] : cols;
    if (i === 0 && (score === undefined || !/^-?\d+(\.\d+)?$/.test(score))) return;
    if (!qid || !docid || score === undefined || !/^-?\d+(\.\d+)?$/.test(score)) throw new Error(`qrels line ${i + 1}: expected query-id<TAB>corpus-id<TAB>score`);
    let judged = qrels.get(qid);
    if (!judged) qrels.set(qid, (judged = new Map()));
    judged.set(docid, Number(score));
  });
  return qrels;
}

function unique(ranking: readonly string[]): string[] {
  return [...new Set(ranking)];
}

export function recallAtK(ranking: readonly string[], judged: ReadonlyMap<string, number>, k: number): number {
  const relevant = [...judged.values()].filter((s) => s > 0).length;
  if (relevant === 0) return 0;
  return unique(ranking).slice(0, k).filter((d) => (judged.get(d) ?? 0) > 0).length / relevant;
}

export function ndcgAtK(ranking: readonly string[], judged: ReadonlyMap<string, number>, k: number): number {
  const dcg = unique(ranking).slice(0, k).reduce((sum, d, i) => sum + Math.max(0, judged.get(d) ?? 0) / Math.log2(i + 2), 0);
  const ideal = [...judged.values()].filter((s) => s > 0).sort((a, b) => b - a).slice(0, k);
  const idcg = ideal.reduce((sum, g, i) => sum + g / Math.log2(i + 2), 0);
  return idcg > 0 ? dcg / idcg : 0;
}

export function mrrAtK(ranking: readonly string[], judged: ReadonlyMap<string, number>, k: number): number {
  const rank = unique(ranking).slice(0, k).findIndex((d) => (judged.get(d) ?? 0) > 0);
  return rank < 0 ? 0 : 1 / (rank + 1);
}

export interface EvalReport {
  /** Queries scored (those with at least one relevant document). */
  queries: number;
  recall: Record<number, number>;
  ndcg: Record<number, number>;
  mrr: Record<number, number>;
  perQuery: Record<string, { recall: Record<number, number>; ndcg: Record<number, number>; mrr: Record<number, number> }>;
}

/** Scores a run (query id → ranked corpus ids) against qrels at each k. */
export function evaluateRetrieval(run: ReadonlyMap<string, readonly string[]>, qrels: Qrels, ks: readonly number[] = [1, 3, 5, 10, 100]): EvalReport {
  const report: EvalReport = { queries: 0, recall: {}, ndcg: {}, mrr: {}, perQuery: {} };
  for (const k of ks) report.recall[k] = report.ndcg[k] = report.mrr[k] = 0;
  for (const [qid, judged] of qrels) {
    if (![...judged.values()].some((s) => s > 0)) continue;
    report.queries++;
    const ranking = run.get(qid) ?? [];
    const q = { recall: {} as Record<number, number>, ndcg: {} as Record<number, number>, mrr: {} as Record<number, number> };
    for (const k of ks) {
      q.recall[k] = recallAtK(ranking, judged, k);
      q.ndcg[k] = ndcgAtK(ranking, judged, k);
      q.mrr[k] = mrrAtK(ranking, judged, k);
      report.recall[k]! += q.recall[k]!;
      report.ndcg[k]! += q.ndcg[k]!;
      report.mrr[k]! += q.mrr[k]!;
    }
    report.perQuery[qid] = q;
  }
  for (const k of ks) {
    if (report.queries === 0) continue;
    report.recall[k]! /= report.queries;
    report.ndcg[k]! /= report.queries;
    report.mrr[k]! /= report.queries;
  }
  return report;
}
