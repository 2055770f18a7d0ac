/**
 * The curated catalog the assistant recommends from: well-known open models with GGUF builds, their
 * licence, context, what they are good at and what they cost, and a filter by the machine's memory.
 * Sizes are the Q4_K_M (or Q8_0) files' approximate sizes; "fits" adds room for the KV cache.
 */
export interface CatalogModel {
  id: string;
  family: string;
  kind: "chat" | "embedding";
  parameters: string;
  quantization: string;
  /** Approximate GGUF file size in bytes. */
  fileBytes: number;
  license: string;
  contextLength: number;
  toolCalling: boolean;
  strengths: string;
  tradeoffs: string;
  ref: string;
}

const GB = 1e9;

export const CATALOG: readonly CatalogModel[] = [
  { id: "qwen2.5-0.5b-instruct", family: "Qwen2.5", kind: "chat", parameters: "0.5B", quantization: "Q4_K_M", fileBytes: 0.4 * GB, license: "Apache-2.0", contextLength: 32768, toolCalling: true, strengths: "very fast on any CPU; simple extraction and classification", tradeoffs: "weak reasoning, shallow answers; not for open-ended support", ref: "hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M" },
  { id: "qwen2.5-1.5b-instruct", family: "Qwen2.5", kind: "chat", parameters: "1.5B", quantization: "Q4_K_M", fileBytes: 1.1 * GB, license: "Apache-2.0", contextLength: 32768, toolCalling: true, strengths: "good small all-rounder, multilingual, tool calling; fine for RAG over manuals on a laptop CPU", tradeoffs: "still makes factual slips without retrieval", ref: "hf:Qwen/Qwen2.5-1.5B-Instruct-GGUF:Q4_K_M" },
  { id: "qwen2.5-3b-instruct", family: "Qwen2.5", kind: "chat", parameters: "3B", quantization: "Q4_K_M", fileBytes: 1.9 * GB, license: "Qwen Research License (non-commercial use without an agreement)", contextLength: 32768, toolCalling: true, strengths: "noticeably better answers than 1.5B at laptop cost", tradeoffs: "licence restricts commercial use: check before deploying for customers", ref: "hf:Qwen/Qwen2.5-3B-Instruct-GGUF:Q4_K_M" },
  { id: "qwen2.5-7b-instruct", family: "Qwen2.5", kind: "chat", parameters: "7B", quantization: "Q4_K_M", fileBytes: 4.7 * GB, license: "Apache-2.0", contextLength: 32768, toolCalling: true, strengths: "strong general assistant, coding, structured output and tool calling", tradeoffs: "slow on CPU (a few tokens/s per user); wants a GPU with 8 GB for many users", ref: "hf:Qwen/Qwen2.5-7B-Instruct-GGUF:Q4_K_M" },
  { id: "llama-3.2-1b-instruct", family: "Llama 3.2", kind: "chat", parameters: "1B", quantization: "Q4_K_M", fileBytes: 0.8 * GB, license: "Llama 3.2 Community License (attribution; >700M MAU needs a licence)", contextLength: 131072, toolCalling: true, strengths: "tiny, long context, good for summaries on CPU", tradeoffs: "limited knowledge and reasoning", ref: "hf:bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M" },
  { id: "llama-3.2-3b-instruct", family: "Llama 3.2", kind: "chat", parameters: "3B", quantization: "Q4_K_M", fileBytes: 2.0 * GB, license: "Llama 3.2 Community License (attribution; >700M MAU needs a licence)", contextLength: 131072, toolCalling: true, strengths: "solid English assistant and RAG answers on a laptop", tradeoffs: "licence terms are not OSI open source", ref: "hf:bartowski/Llama-3.2-3B-Instruct-GGUF:Q4_K_M" },
  { id: "llama-3.1-8b-instruct", family: "Llama 3.1", kind: "chat", parameters: "8B", quantization: "Q4_K_M", fileBytes: 4.9 * GB, license: "Llama 3.1 Community License", contextLength: 131072, toolCalling: true, strengths: "widely used 8B, good instruction following and tool calling", tradeoffs: "needs ~6 GB free; slow on CPU", ref: "hf:bartowski/Meta-Llama-3.1-8B-Instruct-GGUF:Q4_K_M" },
  { id: "phi-3.5-mini-instruct", family: "Phi-3.5", kind: "chat", parameters: "3.8B", quantization: "Q4_K_M", fileBytes: 2.4 * GB, license: "MIT", contextLength: 131072, toolCalling: false, strengths: "strong reasoning for its size, permissive licence", tradeoffs: "English-centric; no native tool-call format", ref: "hf:bartowski/Phi-3.5-mini-instruct-GGUF:Q4_K_M" },
  { id: "gemma-2-2b-it", family: "Gemma 2", kind: "chat", parameters: "2.6B", quantization: "Q4_K_M", fileBytes: 1.7 * GB, license: "Gemma Terms of Use (use restrictions apply)", contextLength: 8192, toolCalling: false, strengths: "fluent, friendly chat at small size", tradeoffs: "8k context; no system role or tool calling; custom licence", ref: "hf:bartowski/gemma-2-2b-it-GGUF:Q4_K_M" },
  { id: "mistral-7b-instruct-v0.3", family: "Mistral", kind: "chat", parameters: "7B", quantization: "Q4_K_M", fileBytes: 4.4 * GB, license: "Apache-2.0", contextLength: 32768, toolCalling: true, strengths: "permissive 7B with function calling, good European languages", tradeoffs: "older than Qwen2.5/Llama 3.1 and weaker on reasoning", ref: "hf:bartowski/Mistral-7B-Instruct-v0.3-GGUF:Q4_K_M" },
  { id: "smollm2-1.7b-instruct", family: "SmolLM2", kind: "chat", parameters: "1.7B", quantization: "Q4_K_M", fileBytes: 1.1 * GB, license: "Apache-2.0", contextLength: 8192, toolCalling: false, strengths: "fully open (data and code), fast on CPU", tradeoffs: "English only, 8k context, weaker than Qwen2.5-1.5B", ref: "hf:bartowski/SmolLM2-1.7B-Instruct-GGUF:Q4_K_M" },
  { id: "nomic-embed-text-v1.5", family: "Nomic Embed", kind: "embedding", parameters: "137M", quantization: "Q8_0", fileBytes: 0.14 * GB, license: "Apache-2.0", contextLength: 8192, toolCalling: false, strengths: "embedding model for document stores; long inputs", tradeoffs: "needs the prefixes search_query: / search_document: (--embedding-query-prefix, --embedding-passage-prefix)", ref: "hf:nomic-ai/nomic-embed-text-v1.5-GGUF:Q8_0" },
];

/** Memory a model needs to serve a few users: its file plus KV cache and buffers (a rough rule). */
export function neededBytes(m: CatalogModel): number {
  return Math.round(m.fileBytes * 1.3 + 0.5 * GB);
}

export interface RecommendRequest {
  kind?: "chat" | "embedding";
  /** Memory available to models, in bytes. */
  memoryBytes: number;
  needsToolCalling?: boolean;
  /** Only licences that allow commercial use without a separate agreement. */
  commercial?: boolean;
}

/** The catalog models that fit, largest first (bigger is better when it fits). */
export function recommend(request: RecommendRequest): CatalogModel[] {
  return CATALOG.filter((m) => (request.kind ?? "chat") === m.kind)
    .filter((m) => neededBytes(m) <= request.memoryBytes)
    .filter((m) => !request.needsToolCalling || m.toolCalling)
    .filter((m) => !request.commercial || !/non-commercial/i.test(m.license))
    .sort((a, b) => b.fileBytes - a.fileBytes);
}
