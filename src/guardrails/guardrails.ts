/**
 * Guardrails in-process: the configurations of a guardrails file compiled into rails, a session
 * per request (input, output and retrieval checks sharing one mask vault and one list of what
 * fired), and the configuration a request gets (its own > its API key's > the server's default).
 */
import type { ChatMessage } from "../engine/types.js";
import { railName, type GuardrailsConfig, type GuardrailsFile } from "./config.js";
import { buildRail } from "./rails.js";
import { MaskVault, runStage } from "./runner.js";
import type { ActivatedRail, CheckedText, Rail, RailContext, RailModels, RailObserver, RailType, StageResult } from "./types.js";

export class UnknownGuardrailsConfigError extends Error {
  constructor(readonly configId: string, readonly known: string[]) {
    super(`Unknown guardrails config_id '${configId}'. Configured: ${known.length > 0 ? known.join(", ") : "none"}.`);
    this.name = "UnknownGuardrailsConfigError";
  }
}

/** A configuration with its rails built, by stage. */
export interface CompiledConfig {
  config: GuardrailsConfig;
  rails: Record<RailType, Rail[]>;
}

export class Guardrails {
  readonly configs = new Map<string, CompiledConfig>();

  constructor(readonly file: GuardrailsFile, readonly observer: RailObserver = {}) {
    for (const [id, config] of file.configs) {
      const rails: Record<RailType, Rail[]> = { input: [], output: [], retrieval: [] };
      for (const r of config.rails) rails[r.type].push(buildRail(r, config));
      this.configs.set(id, { config, rails });
    }
  }

  get defaultId(): string | undefined {
    return this.file.default;
  }

  /** The configuration a request runs: the one it names, else its key's, else the server's; undefined: none. */
  resolve(requested: string | undefined, keyDefault?: string): CompiledConfig | undefined {
    const id = requested ?? keyDefault ?? this.file.default;
    if (id === undefined) return undefined;
    const compiled = this.configs.get(id);
    if (!compiled) throw new UnknownGuardrailsConfigError(id, [...this.configs.keys()]);
    return compiled;
  }

  /** What GET /v1/guardrail/configs lists. */
  list(): { id: string; default: boolean; rails: { name: string; type: RailType; action: string; kind: string }[] }[] {
    return [...this.configs.values()].map(({ config }) => ({
      id: config.id,
      default: config.id === this.file.default,
      rails: config.rails.map((r) => ({ name: railName(r), type: r.type, action: r.action, kind: r.kind })),
    }));
  }

  /** Model ids the configurations name, by kind (checked against the served models at startup). */
  modelsNamed(): { chat: Set<string>; embedding: Set<string>; topicRails: number } {
    const chat = new Set<string>();
    const embedding = new Set<string>();
    let topicRails = 0;
    for (const { config } of this.configs.values()) {
      for (const r of config.rails) {
        if (r.kind === "topic") { topicRails++; if (r.model) embedding.add(r.model); }
        else if ((r.kind === "guard_model" || r.kind === "self_check" || r.kind === "perplexity") && r.model) chat.add(r.model);
      }
    }
    if (this.file.moderation.model) chat.add(this.file.moderation.model);
    return { chat, embedding, topicRails };
  }

  session(compiled: CompiledConfig, models: RailModels, options: { responseSchema?: Record<string, unknown> | "json"; signal?: AbortSignal } = {}): GuardSession {
    return new GuardSession(compiled, models, this.observer, options);
  }
}

/** One request's guardrails: its checks share a mask vault and the list of rails that fired. */
export class GuardSession {
  readonly vault: MaskVault;
  readonly activated: ActivatedRail[] = [];
  /** The conversation after input masking (context for output rails). */
  conversation: ChatMessage[] = [];

  constructor(readonly compiled: CompiledConfig, readonly models: RailModels, private readonly observer: RailObserver, private readonly options: { responseSchema?: Record<string, unknown> | "json"; signal?: AbortSignal }) {
    this.vault = new MaskVault(compiled.config.mask.style);
  }

  get config(): GuardrailsConfig {
    return this.compiled.config;
  }

  get id(): string {
    return this.compiled.config.id;
  }

  hasRails(type: RailType): boolean {
    return this.compiled.rails[type].length > 0;
  }

  private context(stage: RailType): RailContext {
    return { stage, conversation: this.conversation, models: this.models, ...(this.options.responseSchema ? { responseSchema: this.options.responseSchema } : {}), ...(this.options.signal ? { signal: this.options.signal } : {}) };
  }

  private record(result: StageResult): StageResult {
    this.activated.push(...result.activated);
    return result;
  }

  /** Input rails over the conversation (every message: multi-turn attacks are seen). */
  async checkInput(messages: CheckedText[]): Promise<StageResult> {
    this.conversation = messages.map((m) => ({ role: m.role, content: m.text }));
    const result = this.record(await runStage(this.compiled.rails.input, messages, this.context("input"), this.vault, this.observer));
    this.conversation = result.texts.map((m) => ({ role: m.role, content: m.text }));
    return result;
  }

  /** Output rails over an answer (or a stream chunk with its context: `whole` false skips whole-text rules). */
  async checkOutput(text: string, whole = true): Promise<StageResult> {
    const rails = whole ? this.compiled.rails.output : this.compiled.rails.output.filter((r) => !r.wholeTextOnly);
    return this.record(await runStage(rails, [{ role: "assistant", text }], this.context("output"), this.vault, this.observer));
  }

  /** Output rails that only judge a whole answer (length, JSON validity), run once a stream ends. */
  async checkWholeOutput(text: string): Promise<StageResult> {
    return this.record(await runStage(this.compiled.rails.output.filter((r) => r.wholeTextOnly), [{ role: "assistant", text }], this.context("output"), this.vault, this.observer));
  }

  /** Retrieval rails over one retrieved text. */
  async checkRetrieved(text: string): Promise<StageResult> {
    return this.record(await runStage(this.compiled.rails.retrieval, [{ role: "tool", text }], this.context("retrieval"), this.vault, this.observer));
  }

  /** The answer with stable placeholders replaced by the original values, when the config says so. */
  unmask(text: string): string {
    return this.config.mask.unmask_output ? this.vault.unmask(text) : text;
  }

  /** NeMo's guardrails_data: the configuration and what fired. */
  data(): { config_id: string; activated_rails: ActivatedRail[] } {
    return { config_id: this.id, activated_rails: this.activated };
  }
}
