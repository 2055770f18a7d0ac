/** The guardrails' shared types: what a rail sees, what it finds, and what a stage reports. No HTTP here. */
import type { ChatMessage, Engine } from "../engine/types.js";
import type { EmbeddingEngine } from "../engine/embedding-engine.js";

export type RailType = "input" | "output" | "retrieval";
export type RailAction = "block" | "mask" | "log";
export type RailStatus = "success" | "blocked" | "masked" | "logged" | "error";

/** A stretch of one checked text that a rail found (what masking replaces). */
export interface Span {
  /** Index of the text in the checked list. */
  item: number;
  start: number;
  end: number;
  /** What it is: an entity ("email", "card", …), a user pattern's name, or a rule's name. */
  label: string;
}

/** One text to check, with the role it has in the conversation. */
export interface CheckedText {
  role: string;
  text: string;
}

/** What a rail reports: whether it fired, the spans it found (rule rails), and details (categories, scores). */
export interface Finding {
  fired: boolean;
  spans?: Span[];
  detail?: Record<string, unknown>;
}

/** Models the model-based rails use; resolved by the caller (the server's pool, or the CLI's engine). */
export interface RailModels {
  /** A chat model by id; undefined id: the request's model. */
  chat(id: string | undefined): Promise<Engine>;
  embedding(id: string | undefined): Promise<EmbeddingEngine>;
}

/** What a rail gets besides the texts. */
export interface RailContext {
  stage: RailType;
  /** The whole conversation (input rails: the messages; output rails: the messages before the answer). */
  conversation: ChatMessage[];
  models: RailModels;
  /** The JSON schema the request asked the output to follow, if any. */
  responseSchema?: Record<string, unknown> | "json";
  signal?: AbortSignal;
}

export interface Rail {
  readonly name: string;
  readonly type: RailType;
  readonly action: RailAction;
  readonly kind: string;
  /** Error handling: "closed" blocks when the rail fails, "open" lets the text through. */
  readonly onError: "closed" | "open";
  /** Rules that only make sense on a whole answer (length, JSON validity): not run on stream chunks. */
  readonly wholeTextOnly?: boolean;
  check(texts: CheckedText[], context: RailContext): Promise<Finding>;
}

/** One rail's outcome in a stage (NeMo's rails_status entry). */
export interface RailReport {
  status: RailStatus;
  type: RailType;
  latency_ms: number;
  detail?: Record<string, unknown>;
}

/** A rail that fired, as `guardrails_data.activated_rails` lists it. */
export interface ActivatedRail {
  name: string;
  type: RailType;
  action: RailAction;
  detail?: Record<string, unknown>;
}

export interface StageResult {
  blocked: boolean;
  /** The texts after masking (the same texts when nothing was masked). */
  texts: CheckedText[];
  rails: Record<string, RailReport>;
  activated: ActivatedRail[];
}

/** Observes each rail run (metrics, logs). */
export interface RailObserver {
  onRail?(rail: Rail, report: RailReport, error?: unknown): void;
}
