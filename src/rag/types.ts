/**
 * The retrieval (RAG) layer's shared types: what document extraction produces, what chunking
 * produces, what the index stores and what a retriever returns. No HTTP here: the API, the CLI,
 * guardrails' retrieval rail and the Responses API's file_search all speak these types.
 */

/** Why a document could not be turned into text (becomes `last_error.code` of a vector store file). */
export type ExtractErrorCode = "unsupported_file" | "invalid_file";

export class ExtractError extends Error {
  constructor(readonly code: ExtractErrorCode, message: string) {
    super(message);
    this.name = "ExtractError";
  }
}

/** A stretch of a document's text under one heading path on one page. */
export interface DocumentSection {
  text: string;
  /** 1-based page number (PDF), when the format has pages. */
  page?: number;
  /** The headings this text sits under, outermost first (Markdown/HTML/docx headings). */
  headingPath: string[];
}

/** A document's text, in reading order, split where the page or the heading path changes. */
export interface ExtractedDocument {
  sections: DocumentSection[];
  title?: string;
  /** How many pages the document has (PDF). */
  pageCount?: number;
}

/** Counts and splits text in a model's own tokens (the embedding model's tokenizer). */
export interface TextTokenizer {
  /** The token ids of a text (no special tokens). */
  encode(text: string): number[] | readonly number[];
  /** The text of a run of token ids. */
  decode(tokens: readonly number[]): string;
}

export interface ChunkingOptions {
  /** Most tokens in one chunk (OpenAI's static strategy: 100–4096; auto: 800). */
  maxChunkTokens: number;
  /** Tokens shared by consecutive chunks (at most half of maxChunkTokens; auto: 400). */
  overlapTokens: number;
}

/** One piece of a document, as indexed and as cited. */
export interface Chunk {
  /** Position of the chunk in its file, from 0. */
  index: number;
  text: string;
  tokens: number;
  page?: number;
  headingPath: string[];
  /** Character offsets of the chunk in the document's extracted text (sections joined by "\n\n"). */
  charStart: number;
  charEnd: number;
}

/** Attribute values of a vector store file (OpenAI: string, number or boolean). */
export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue>;

/** OpenAI's vector store search filters: comparisons, and compound and/or. */
export type ComparisonFilter = {
  type: "eq" | "ne" | "gt" | "gte" | "lt" | "lte" | "in" | "nin";
  key: string;
  value: AttributeValue | AttributeValue[];
};
export type CompoundFilter = { type: "and" | "or"; filters: SearchFilter[] };
export type SearchFilter = ComparisonFilter | CompoundFilter;

/** A chunk found by a search, with where it came from. */
export interface RetrievedChunk {
  vectorStoreId: string;
  fileId: string;
  filename: string;
  chunk: Chunk;
  attributes: Attributes;
  /** Normalised to [0, 1], comparable across queries; `score_threshold` applies to it. */
  score: number;
}

export interface RetrievalOptions {
  /** 1–50 (OpenAI's max_num_results); default 10. */
  maxResults?: number;
  filters?: SearchFilter;
  /** Results scoring below it are dropped (0–1). */
  scoreThreshold?: number;
  /** "none" turns the rerank stage off; default "auto" (rerank when a rerank model is served). */
  ranker?: "auto" | "none" | string;
  /** Weights of the dense and BM25 lists in the reciprocal rank fusion (default 1 and 1). */
  hybrid?: { embeddingWeight: number; textWeight: number };
  /** Rewrite the query with the chat model before searching. */
  rewriteQuery?: boolean;
  signal?: AbortSignal;
}

export interface RetrievalResult {
  /** The query actually searched (rewritten, or truncated to the embedding model's context). */
  searchQuery: string;
  /** The query was longer than the embedding model's context and was cut. */
  truncated: boolean;
  results: RetrievedChunk[];
}

/**
 * Searches vector stores. In-process interface: grounded chat, the Responses API's file_search,
 * the CLI and the HTTP search endpoint all call it.
 */
export interface Retriever {
  search(vectorStoreIds: readonly string[], query: string | readonly string[], options?: RetrievalOptions): Promise<RetrievalResult>;
}

/**
 * Checks retrieved chunks before they reach a prompt (guardrails' retrieval rail): chunks that fail are
 * dropped, or returned with their text masked; `withheld` counts the dropped ones.
 */
export type RetrievedChunkFilter = (chunks: readonly RetrievedChunk[]) => Promise<{ chunks: RetrievedChunk[]; withheld: number; masked: number }>;
