/** Request schemas of the Files and Vector Stores APIs (OpenAI's shapes and limits). */
import { z } from "zod";
import type { SearchFilter } from "../../rag/types.js";

export const FILE_PURPOSES = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"] as const;
export const purposeSchema = z.enum(FILE_PURPOSES);

const attributeValue = z.union([z.string().max(512), z.number(), z.boolean()]);
export const attributesSchema = z
  .record(z.string().max(64), attributeValue)
  .refine((a) => Object.keys(a).length <= 16, "at most 16 attributes");
export const metadataSchema = z
  .record(z.string().max(64), z.string().max(512))
  .refine((m) => Object.keys(m).length <= 16, "at most 16 keys");

export const chunkingStrategySchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("auto") }),
  z.object({
    type: z.literal("static"),
    static: z
      .object({ max_chunk_size_tokens: z.number().int().min(100).max(4096), chunk_overlap_tokens: z.number().int().min(0) })
      .refine((s) => s.chunk_overlap_tokens <= s.max_chunk_size_tokens / 2, { message: "chunk_overlap_tokens must not exceed half of max_chunk_size_tokens", path: ["chunk_overlap_tokens"] }),
  }),
]);

const expiresAfterSchema = z.object({ anchor: z.literal("last_active_at"), days: z.number().int().min(1).max(365) });

export const createStoreSchema = z.object({
  name: z.string().max(256).nullish(),
  description: z.string().max(512).nullish(),
  file_ids: z.array(z.string().min(1)).max(500).optional(),
  chunking_strategy: chunkingStrategySchema.optional(),
  expires_after: expiresAfterSchema.nullish(),
  metadata: metadataSchema.nullish(),
  /** Nimble: redact PII from chunks before they are indexed. */
  redact_pii: z.boolean().optional(),
});

export const updateStoreSchema = z.object({
  name: z.string().max(256).nullish(),
  expires_after: expiresAfterSchema.nullish(),
  metadata: metadataSchema.nullish(),
});

export const attachFileSchema = z.object({
  file_id: z.string().min(1),
  attributes: attributesSchema.nullish(),
  chunking_strategy: chunkingStrategySchema.optional(),
});

export const updateStoreFileSchema = z.object({ attributes: attributesSchema.nullable() });

export const createBatchSchema = z
  .object({
    file_ids: z.array(z.string().min(1)).min(1).max(2000).optional(),
    files: z.array(z.object({ file_id: z.string().min(1), attributes: attributesSchema.nullish(), chunking_strategy: chunkingStrategySchema.optional() })).min(1).max(2000).optional(),
    attributes: attributesSchema.nullish(),
    chunking_strategy: chunkingStrategySchema.optional(),
  })
  .refine((b) => (b.file_ids === undefined) !== (b.files === undefined), { message: "send either file_ids or files, not both", path: ["file_ids"] });

export const filterSchema: z.ZodType<SearchFilter> = z.lazy(() =>
  z.union([
    z.object({
      type: z.enum(["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]),
      key: z.string().min(1),
      value: z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number(), z.boolean()]))]),
    }),
    z.object({ type: z.enum(["and", "or"]), filters: z.array(filterSchema).min(1) }),
  ]),
);

export const rankingOptionsSchema = z.object({
  ranker: z.enum(["none", "auto", "default-2024-11-15"]).optional(),
  score_threshold: z.number().min(0).max(1).optional(),
  hybrid_search: z.object({ embedding_weight: z.number().min(0), text_weight: z.number().min(0) }).optional(),
});

export const searchSchema = z.object({
  query: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  filters: filterSchema.nullish(),
  max_num_results: z.number().int().min(1).max(50).optional(),
  ranking_options: rankingOptionsSchema.optional(),
  rewrite_query: z.boolean().optional(),
});

export const listQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  order: z.enum(["asc", "desc"]).default("desc"),
  after: z.string().optional(),
  before: z.string().optional(),
});

export const storeFilesQuerySchema = listQuerySchema.extend({ filter: z.enum(["in_progress", "completed", "failed", "cancelled"]).optional() });
export const filesQuerySchema = listQuerySchema.extend({ purpose: z.string().optional(), limit: z.coerce.number().int().min(1).max(10000).default(10000) });
