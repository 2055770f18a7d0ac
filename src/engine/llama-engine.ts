/**
 * The local engine: one GGUF model loaded through node-llama-cpp, one llama.cpp context with
 * N parallel sequences, driven by the continuous-batching Scheduler.
 */
import { createHash } from "node:crypto";
import { stat } from "node:fs/promises";
import { join, resolve as resolvePath } from "node:path";
import { LlamaGrammarEvaluationState, type Llama, type LlamaContext, type LlamaModel, type Token } from "node-llama-cpp";
import { ChatTemplate } from "./chat-template.js";
import { GrammarCache, type CompiledGrammar } from "./grammar.js";
import { createNativeSampler, nativeContext, type NativeContext } from "./native.js";
import { KvTier } from "./kv-tier.js";
import { Scheduler, type SchedulerObserver } from "./scheduler.js";
import { sequenceStates } from "./sequence-states.js";
import { greedyToken } from "./greedy.js";
import { attachThreadPool, type ThreadPoolStatus } from "./threadpool.js";
import { cpuLimit } from "./contention.js";
import { createEngineThreadTuner, type ThreadTuner } from "./threads.js";
import type { AdapterHandle, ChatMessage, ChatTemplateOptions, Engine, EngineStats, GenerationRequest, GenerationStream, GrammarSpec, ModelInfo, PreparedGrammar } from "./types.js";
import { sharedLlama } from "./llama-instance.js";

export type GpuChoice = "auto" | "cuda" | "vulkan" | "metal" | "cpu";

export interface LlamaEngineOptions {
  modelPath: string;
  /** Name the model is served as. */
  servedName: string;
  isDemo?: boolean;
  /** Parallel sequences (requests decoded together). */
  parallel: number;
  /** Layers to put on the GPU (default: as many as fit, node-llama-cpp's choice). */
  gpuLayers?: number;
  /** KV cache element type (default f16; q8_0 halves the cache). */
  kvCacheType?: "f16" | "q8_0";
  /** Tokens per sequence (prompt + completion); default: the model's training context, at most 4096. */
  contextSize?: number;
  /** Most tokens decoded per step. */
  batchSize?: number;
  maxQueue: number;
  /** Longest a request may wait for a sequence, in ms (0 = no limit). */
  queueTimeoutMs?: number;
  /** CPU threads; default: chosen per step from the physical core count. */
  threads?: number;
  gpu?: GpuChoice;
  /** KV cache tier: bytes of host memory and of disk (under kvCacheDir) for reassigned sequences' cells (0 = off). */
  kvCacheRamBytes?: number;
  kvCacheDiskBytes?: number;
  /** Folder of the disk tier (a subfolder per model fingerprint is made in it). */
  kvCacheDir?: string;
  /** Load progress, 0–1. */
  onLoadProgress?: (progress: number) => void;
  observer?: SchedulerObserver;
}

export interface HardwareInfo {
  gpu: string | false;
  gpuDevices: string[];
  cpuMathCores: number;
  gpuLayers: number;
  /** Whether a persistent CPU thread pool is attached (and why not). */
  threadPool: { attached: boolean; reason?: string };
  /** Whether prefix copies between sequences and the KV cache tier are available (and why not). */
  sequenceStates: { available: boolean; reason?: string };
}

/**
 * Decodes one token and forgets it, as llama.cpp's own tools do at start: the weights are read
 * (paged in from the file) now rather than during the first request, whose latency and the
 * thread tuner's first measurements would otherwise pay for it.
 */
async function warmUp(ctx: NativeContext, model: LlamaModel): Promise<void> {
  const token = model.tokens.bos ?? model.tokens.eos ?? 0;
  ctx.initBatch(1);
  ctx.addToBatch(0, 0, Uint32Array.of(token), Uint32Array.of(0));
  await ctx.decodeBatch();
  ctx.removeTokenCellsFromSequence(0, 0, -1);
}

/**
 * The KV cache tier of a model, when --kv-cache-ram or --kv-cache-disk is on. Its entries are valid
 * only for this model file and KV layout: the fingerprint (path, size, modification time, KV type,
 * context size) names the disk folder and is checked in every file's header.
 */
async function createKvTier(options: LlamaEngineOptions, model: LlamaModel, contextSize: number): Promise<KvTier | undefined> {
  const ramBytes = options.kvCacheRamBytes ?? 0;
  const diskBytes = options.kvCacheDir ? options.kvCacheDiskBytes ?? 0 : 0;
  if (ramBytes <= 0 && diskBytes <= 0) return undefined;
  const file = await stat(options.modelPath);
  const fingerprint = createHash("sha256")
    .update(JSON.stringify([resolvePath(options.modelPath), file.size, file.mtimeMs, options.kvCacheType ?? "f16", contextSize, model.gpuLayers > 0, NIMBLE_KV_LAYOUT]))
    .digest("hex").slice(0, 24);
  return new KvTier({ ramBytes, diskBytes, fingerprint, ...(diskBytes > 0 ? { dir: join(options.kvCacheDir!, fingerprint) } : {}) });
}

/** Bumped when what Nimble stores in a KV tier entry changes. */
const NIMBLE_KV_LAYOUT = 1;

/** An adapter node-llama-cpp has loaded (its native object goes to the context's setLoras). */
interface LoadedAdapter extends AdapterHandle {
  readonly native: unknown;
}

export class LlamaEngine implements Engine {
  private closing = false;

  private constructor(
    readonly info: ModelInfo,
    readonly hardware: HardwareInfo,
    readonly threads: ThreadTuner,
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly context: LlamaContext,
    private readonly scheduler: Scheduler,
    private readonly chatTemplate: ChatTemplate,
    private readonly threadPool: ThreadPoolStatus,
    private readonly grammars: GrammarCache,
    private readonly kvTier: KvTier | undefined,
  ) {}

  private readonly adapters = new Map<string, Promise<LoadedAdapter>>();

  static async load(options: LlamaEngineOptions): Promise<LlamaEngine> {
    const gpu = options.gpu ?? "auto";
    const llama = await sharedLlama(gpu);
    const model = await llama.loadModel({
      modelPath: options.modelPath,
      onLoadProgress: options.onLoadProgress,
      ...(options.gpuLayers !== undefined ? { gpuLayers: options.gpuLayers } : {}),
    });
    const contextSize = options.contextSize ?? Math.min(model.trainContextSize, 4096);
    // Cores this process may run on: physical cores, CPU affinity and cgroup quota (contention.ts).
    const cpu = cpuLimit(llama.cpuMathCores);
    const batchSize = Math.max(options.batchSize ?? 512, options.parallel);
    const context = await model.createContext({
      sequences: options.parallel,
      contextSize,
      batchSize,
      threads: options.threads ?? cpu.cores,
      flashAttention: true,
      ...(options.kvCacheType === "q8_0" ? { experimentalKvCacheKeyType: "Q8_0" as const, experimentalKvCacheValueType: "Q8_0" as const } : {}),
    });

    const threadPool = attachThreadPool(context, model, options.parallel, options.threads ?? cpu.cores);
    await warmUp(nativeContext(context), model);
    const threads = createEngineThreadTuner(cpu.cores, options.threads, threadPool.attached, cpu.why);
    const states = sequenceStates(context, model, options.parallel);
    const greedy = greedyToken(context, model, options.parallel);
    const kvTier = typeof states !== "string" ? await createKvTier(options, model, context.contextSize) : undefined;

    const eogTokens: number[] = [];
    const vocabSize = model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length ?? 0;
    for (let t = 0; t < vocabSize; t++) if (model.isEogToken(t as Token)) eogTokens.push(t);

    const scheduler = new Scheduler(
      nativeContext(context),
      {
        detokenize: (tokens) => model.detokenize(tokens as Token[]),
        isEog: (token) => model.isEogToken(token as Token),
        eogTokens,
        createSampler: () => createNativeSampler(model),
        setAdapter: (adapter) => {
          const native = (context as unknown as { _ctx: { setLoras(loras: unknown[], scales: number[]): void } })._ctx;
          native.setLoras(adapter ? [(adapter as LoadedAdapter).native] : [], adapter ? [1] : []);
        },
        createGrammarState: (g) => (new LlamaGrammarEvaluationState({ model, grammar: (g as CompiledGrammar).grammar }) as unknown as { _state: unknown })._state,
      },
      {
        parallel: options.parallel,
        contextSize: context.contextSize,
        batchSize,
        maxQueue: options.maxQueue,
        queueTimeoutMs: options.queueTimeoutMs,
        threads,
        ...(typeof states !== "string" ? { states } : {}),
        ...(kvTier ? { kvTier } : {}),
        ...(greedy ? { greedy } : {}),
      },
      options.observer,
    );
    const template = (model.fileInfo.metadata as { tokenizer?: { chat_template?: string } }).tokenizer?.chat_template;
    const chatTemplate = new ChatTemplate(template, { bos: model.tokens.bosString ?? undefined, eos: model.tokens.eosString ?? undefined });
    const info: ModelInfo = {
      id: options.servedName,
      path: options.modelPath,
      isDemo: options.isDemo ?? false,
      architecture: String((model.fileInfo.metadata as { general?: { architecture?: string } }).general?.architecture ?? "unknown"),
      parameters: model.fileInsights.totalParameters,
      sizeBytes: model.size,
      trainContextSize: model.trainContextSize,
      contextSize: context.contextSize,
      parallel: options.parallel,
      hasChatTemplate: chatTemplate.isModelTemplate,
      templateToolCalls: chatTemplate.hasToolCallFormat,
      vocabSize,
    };
    const hardware: HardwareInfo = {
      gpu: llama.gpu,
      gpuDevices: llama.gpu ? await llama.getGpuDeviceNames() : [],
      cpuMathCores: llama.cpuMathCores,
      gpuLayers: model.gpuLayers,
      threadPool: { attached: threadPool.attached, ...(threadPool.reason ? { reason: threadPool.reason } : {}) },
      sequenceStates: typeof states === "string" ? { available: false, reason: states } : { available: true },
    };
    return new LlamaEngine(info, hardware, threads, llama, model, context, scheduler, chatTemplate, threadPool, new GrammarCache(llama), kvTier);
  }

  tokenize(text: string, addSpecial = true): number[] {
    const tokens = this.model.tokenize(text, true);
    const bos = this.model.tokens.bos;
    if (addSpecial && this.model.tokens.shouldPrependBosToken && bos != null && tokens[0] !== bos) return [bos, ...tokens];
    return tokens;
  }

  detokenize(tokens: number[]): string {
    return this.model.detokenize(tokens as Token[]);
  }

  applyChatTemplate(messages: ChatMessage[], options?: ChatTemplateOptions): string {
    return this.chatTemplate.render(messages, options);
  }

  prepareGrammar(spec: GrammarSpec): Promise<PreparedGrammar> {
    return this.grammars.prepare(spec);
  }

  /** Loads a LoRA adapter into the model (llama.cpp keeps it beside the weights; each file once). */
  loadAdapter(path: string): Promise<AdapterHandle> {
    let loaded = this.adapters.get(path);
    if (!loaded) {
      const model = this.model as unknown as { _getOrLoadLora(path: string): Promise<unknown> };
      loaded = model._getOrLoadLora(path).then((native): LoadedAdapter => ({ id: path, native }));
      loaded.catch(() => this.adapters.delete(path));
      this.adapters.set(path, loaded);
    }
    return loaded;
  }

  generate(request: GenerationRequest): GenerationStream {
    return this.scheduler.generate(request);
  }

  stats(): EngineStats {
    return this.scheduler.stats();
  }

  async close(timeoutMs = 30_000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([this.scheduler.drain(), timedOut]);
    clearTimeout(timer);
    this.scheduler.abortAll("The server is shutting down.");
    await this.scheduler.drain();
    this.kvTier?.close();
    this.threadPool.detach();
    await this.context.dispose();
    await this.model.dispose(); // the Llama is shared by the process (llama-instance.ts)
  }
}
