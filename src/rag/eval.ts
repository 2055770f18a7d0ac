/**
 * Retrieval metrics with BEIR's definitions (pytrec_eval): relevance judgements (qrels) map a
 * document id to a grade; grade > 0 is relevant.
 * - recall@k: relevant documents in the top k / all relevant documents.
 * - nDCG@k: Σ_{i≤k} grade_i / log2(i + 1), divided by the same sum over the ideal order.
 * - MRR@k: 1 / rank of the first relevant document in the top k (0 if none).
 * Each takes one query's ranked document ids (duplicates are counted once, at their best rank).
 */
export type Qrels = Readonly<Record<string, number>>;

function unique(ranked: readonly string[]): string[] {
  return [...new Set(ranked)];
}

export function recallAtK(ranked: readonly string[], qrels: Qrels, k: number): number {
  const relevant = Object.keys(qrels).filter((d) => qrels[d]! > 0);
  if (relevant.length === 0) return 0;
  const top = new Set(unique(ranked).slice(0, k));
  return relevant.filter((d) => top.has(d)).length / relevant.length;
}

export function ndcgAtK(ranked: readonly string[], qrels: Qrels, k: number): number {
  const dcg = unique(ranked).slice(0, k).reduce((sum, d, i) => sum + Math.max(0, qrels[d] ?? 0) / Math.log2(i + 2), 0);
  const ideal = Object.values(qrels).filter((g) => g > 0).sort((a, b) => b - a).slice(0, k).reduce((sum, g, i) => sum + g / Math.log2(i + 2), 0);
  return ideal > 0 ? dcg / ideal : 0;
}

export function mrr(ranked: readonly string[], qrels: Qrels, k = Infinity): number {
  const i = unique(ranked).slice(0, k).findIndex((d) => (qrels[d] ?? 0) > 0);
  return i < 0 ? 0 : 1 / (i + 1);
}

/** BEIR's qrels TSV (query-id, corpus-id, score; a header line is skipped). */
export function parseQrels(text: string): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const line of text.split(/\r?\n/)) {
    const [q, d, s] = line.split("\t");
    if (!q || !d || s === undefined || !/^-?\d+(\.\d+)?$/.test(s.trim())) continue;
    const entry = out.get(q) ?? {};
    entry[d] = Number(s);
    out.set(q, entry);
  }
  return out;
}

/** BEIR's queries JSONL ({"_id", "text"} per line). */
export function parseQueries(text: string): { id: string; text: string }[] {
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim())
    .map((l, i) => {
      const q = JSON.parse(l) as { _id?: unknown; id?: unknown; text?: unknown };
      const id = q._id ?? q.id;
      if (id === undefined || typeof q.text !== "string") throw new Error(`line ${i + 1}: a query needs "_id" and "text"`);
      return { id: String(id), text: q.text };
    });
}
