/** The reranker's relevance logit as a score in [0, 1] (the same as /v1/rerank's relevance_score). */
export function sigmoidScore(logit: number): number {
  return 1 / (1 + Math.exp(-logit));
}
