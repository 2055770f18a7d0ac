/**
 * The rerank engine: a cross-encoder GGUF (bge-reranker, jina-reranker, Qwen3-Reranker…) loaded
 * with llama.cpp's rank pooling. It scores query/document pairs and returns raw relevance logits.
 *
 * Each pair is laid out as llama.cpp's server lays it out (`format_prompt_rerank`): the model's
 * rerank template when it has one (`tokenizer.chat_template.rerank`, with {query} and {document}),
 * otherwise BOS query EOS SEP document EOS, each special token where the model asks for it.
 * node-llama-cpp's ranking context creates the context (it checks the model can rank), but its
 * scores are sigmoid-squashed and read one pair at a time, so the pairs are decoded here through
 * the context's native methods (src/engine/native.ts), on sequence 0.
 *
 * Batching: node-llama-cpp 3.21.1's native `getEmbedding` reads sequence 0's pooled output only,
 * so several pairs cannot share one decode; a request's pairs are decoded one after another.
 */
import { type LlamaContext, type LlamaModel, type LlamaRankingContext } from "node-llama-cpp";
import type { GpuChoice } from "./llama-engine.js";
import { nativeEmbeddingContext, type NativeEmbeddingContext } from "./native.js";
import { sharedLlama } from "./llama-instance.js";

export interface RerankEngineOptions {
  modelPath: string;
  servedName: string;
  /** Most tokens one query/document pair may take; default: the model's training context, at most 8192. */
  contextSize?: number;
  /** CPU threads; default: node-llama-cpp's count of cores for math (never its own default of 6). */
  threads?: number;
  gpu?: GpuChoice;
}

export interface RerankerInfo {
  id: string;
  path: string;
  /** Most tokens one query/document pair may take, separators included. */
  maxInputTokens: number;
  vocabSize: number;
}

/** NIM's truncate values: NONE makes an over-long pair an error, END cuts the document's tail. */
export type RerankTruncation = "NONE" | "END";

/** A pair that does not fit: `index` is the document's; `part` says what is too long. */
export class PairTooLongError extends Error {
  constructor(
    readonly index: number,
    /** Tokens the pair (or, for part "query", the query with the separators and no document) takes. */
    readonly tokens: number,
    readonly limit: number,
    readonly part: "pair" | "query",
  ) {
    super(`${part === "query" ? "the query" : `pair ${index}`} takes ${tokens} tokens, more than the ${limit} the reranker takes`);
    this.name = "PairTooLongError";
  }
}

export interface RerankResult {
  /** One raw relevance logit per document, in the documents' order. */
  logits: number[];
  /** Tokens evaluated over all pairs (after truncation). */
  tokens: number;
}

/** A pair's layout: literal tokens, and where the query and the document go. */
type Segment = number[] | "query" | "document";

/** Architectures whose rank pooling ends in a softmax (llama-graph.cpp, build_pooling): their score is a probability. */
const SOFTMAX_RANKERS = new Set(["qwen3", "qwen3vl"]);

export class RerankEngine {
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly info: RerankerInfo,
    private readonly model: LlamaModel,
    private readonly ranking: LlamaRankingContext,
    private readonly native: NativeEmbeddingContext,
    private readonly layout: Segment[],
    private readonly scoreIsProbability: boolean,
  ) {}

  static async load(options: RerankEngineOptions): Promise<RerankEngine> {
    const gpu = options.gpu ?? "auto";
    const llama = await sharedLlama(gpu);
    const model = await llama.loadModel({ modelPath: options.modelPath });
    if (!model.fileInsights.supportsRanking) {
      await model.dispose();
      throw new Error(`${options.modelPath} is not a reranker: it has no classification head (cls.weight or cls.output.weight) for llama.cpp's rank pooling`);
    }
    const contextSize = options.contextSize ?? Math.min(model.trainContextSize, 8192);
    // The whole pair must be in one micro-batch (BERT attention is not causal): batch = context.
    // Threads set deliberately: node-llama-cpp's default oversubscribes small machines.
    const ranking = await model.createRankingContext({ contextSize, batchSize: contextSize, threads: options.threads ?? llama.cpuMathCores });
    const context = (ranking as unknown as { _llamaContext?: LlamaContext })._llamaContext;
    if (!context) throw new Error("node-llama-cpp's ranking context changed: it has no _llamaContext");
    const info: RerankerInfo = {
      id: options.servedName,
      path: options.modelPath,
      maxInputTokens: context.contextSize,
      vocabSize: model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 0,
    };
    const architecture = String(model.fileInfo.metadata.general?.architecture ?? "");
    return new RerankEngine(info, model, ranking, nativeEmbeddingContext(context), pairLayout(model), SOFTMAX_RANKERS.has(architecture));
  }

  tokenize(text: string): number[] {
    return this.model.tokenize(text, false);
  }

  /**
   * The evaluation input of each query/document pair, fitted to the context: with truncate END
   * the document's tail is cut; otherwise (or when the query alone does not fit) PairTooLongError.
   */
  pairInputs(query: number[], documents: number[][], truncate: RerankTruncation): number[][] {
    const limit = this.info.maxInputTokens;
    const queries = this.layout.filter((s) => s === "query").length;
    const docs = Math.max(1, this.layout.filter((s) => s === "document").length);
    const literal = this.layout.reduce((n, s) => n + (typeof s === "string" ? 0 : s.length), 0);
    const withoutDocument = literal + queries * query.length;
    return documents.map((document, index) => {
      const length = withoutDocument + docs * document.length;
      if (length <= limit) return this.build(query, document);
      if (truncate === "NONE") throw new PairTooLongError(index, length, limit, "pair");
      const room = Math.floor((limit - withoutDocument) / docs);
      if (room < 1) throw new PairTooLongError(index, withoutDocument, limit, "query");
      return this.build(query, document.slice(0, room));
    });
  }

  /** Raw relevance logits of pairs built by pairInputs (one request at a time, in arrival order). */
  async score(inputs: number[][]): Promise<number[]> {
    const run = this.queue.then(async () => {
      const logits: number[] = [];
      for (const input of inputs) logits.push(await this.evaluate(input));
      return logits;
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /** pairInputs then score. */
  async rank(query: number[], documents: number[][], truncate: RerankTruncation): Promise<RerankResult> {
    const inputs = this.pairInputs(query, documents, truncate);
    return { logits: await this.score(inputs), tokens: inputs.reduce((n, t) => n + t.length, 0) };
  }

  async close(): Promise<void> {
    await this.queue;
    await this.ranking.dispose();
    await this.model.dispose();
  }

  private build(query: number[], document: number[]): number[] {
    return this.layout.flatMap((s) => (s === "query" ? query : s === "document" ? document : s));
  }

  private async evaluate(input: number[]): Promise<number> {
    const native = this.native;
    // Sequence 0 holds nothing between pairs (an encoder keeps no cache; a decoder's is cleared).
    native.removeTokenCellsFromSequence(0, 0, -1);
    native.initBatch(input.length);
    // Every token is an output, as llama.cpp's server marks them for pooling (it would override otherwise).
    native.addToBatch(0, 0, Uint32Array.from(input), Uint32Array.from(input.keys()));
    await native.decodeBatch();
    const pooled = native.getEmbedding(input.length, 1)[0];
    native.removeTokenCellsFromSequence(0, 0, -1);
    if (pooled === undefined || !Number.isFinite(pooled)) throw new Error("the reranker produced no score");
    return this.scoreIsProbability ? logit(pooled) : pooled;
  }
}

/** The log-odds of a probability, kept finite at 0 and 1. */
function logit(p: number): number {
  const q = Math.min(Math.max(p, 1e-12), 1 - 1e-12);
  return Math.log(q / (1 - q));
}

/** How the model wants a pair laid out (see the module comment). */
function pairLayout(model: LlamaModel): Segment[] {
  const template = (model.fileInfo.metadata.tokenizer as { chat_template?: { rerank?: string } } | undefined)?.chat_template?.rerank;
  if (typeof template === "string" && template.includes("{query}") && template.includes("{document}")) {
    return template
      .split(/(\{query\}|\{document\})/)
      .filter((part) => part !== "")
      .map((part) => (part === "{query}" ? "query" : part === "{document}" ? "document" : model.tokenize(part, true)));
  }
  const { bos, eos, sep } = model.tokens;
  const end = eos ?? sep;
  const addSep = (model.fileInfo.metadata.tokenizer?.ggml as { add_sep_token?: boolean } | undefined)?.add_sep_token === true;
  const special = (add: boolean, token: number | null) => (add && token != null ? [[token]] : []);
  return [
    ...special(model.tokens.shouldPrependBosToken, bos),
    "query",
    ...special(model.tokens.shouldAppendEosToken, end),
    ...special(addSep, sep),
    "document",
    ...special(model.tokens.shouldAppendEosToken, end),
  ];
}
