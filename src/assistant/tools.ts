/**
 * The assistant's tools: each has a JSON schema for the model, a zod schema that validates what
 * the model sent, whether it changes anything (then it is shown as a plan and confirmed first), and
 * a run that acts only through Nimble's HTTP APIs (plus the nimble.yaml it writes), returning what
 * undoes it.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { stringify } from "yaml";
import { z } from "zod";
import { resolveConfig } from "../config.js";
import { neededBytes, recommend } from "./catalog.js";
import type { NimbleClient } from "./client.js";
import { readIfExists, restoreFile, servingProperties, str, tool, writeChecked, type Tool } from "./tool.js";
import { runBenchmark } from "./tools-bench.js";
import { writeGuardrails, restoreGuardrails } from "./tools-guardrails.js";
import { writeKubernetes } from "./tools-kubernetes.js";
import type { UndoRecord } from "./log.js";

export type { Tool, ToolContext, ToolOutcome } from "./tool.js";

const GiB = 1024 ** 3;
const gib = (b: number) => (b >= GiB / 10 ? `${(b / GiB).toFixed(1)} GiB` : `${(b / 1024 ** 2).toFixed(1)} MiB`);
/** Files the document store tool uploads from a folder. */
const DOCUMENT_EXTENSIONS = /\.(txt|md|markdown|pdf|html?|docx|csv|json)$/i;

const inspectMachine = tool({
  name: "inspect_machine",
  description: "Report the machine Nimble runs on (CPU cores, RAM, GPU) and the models it serves.",
  schema: z.object({}).strict(),
  parameters: { type: "object", properties: {}, additionalProperties: false },
  changes: false,
  plan: () => "inspect the machine",
  async run(_args, { client }) {
    const machine = await client.get("/v1/admin/machine");
    const models = await client.get("/v1/admin/models");
    const served = (models.data as { id: string; kind: string; state: string }[]).map((m) => `${m.id} (${m.kind}, ${m.state})`);
    return {
      result: { machine, models: models.data },
      summary: `${machine.cpu_cores} CPU cores, ${gib(machine.ram_total_bytes)} RAM (${gib(machine.ram_free_bytes)} free), GPU: ${machine.gpu || "none"}; serving ${served.join(", ") || "nothing"}`,
    };
  },
});

const recommendSchema = z
  .object({
    kind: z.enum(["chat", "embedding"]).default("chat"),
    commercial: z.boolean().default(false),
    needs_tool_calling: z.boolean().default(false),
  })
  .strict();
const recommendModels = tool({
  name: "recommend_models",
  description: "Recommend models from Nimble's curated catalog that fit this machine's memory, largest first, with licence and trade-offs.",
  schema: recommendSchema,
  parameters: {
    type: "object",
    properties: {
      kind: { type: "string", enum: ["chat", "embedding"] },
      commercial: { type: "boolean", description: "only licences that allow commercial use" },
      needs_tool_calling: { type: "boolean" },
    },
    additionalProperties: false,
  },
  changes: false,
  plan: () => "recommend models",
  async run(args, { client }) {
    const machine = await client.get("/v1/admin/machine");
    const memory = Math.min(machine.memory_budget_bytes, machine.ram_total_bytes);
    const picks = recommend({ kind: args.kind, memoryBytes: memory, commercial: args.commercial, needsToolCalling: args.needs_tool_calling }).slice(0, 4);
    return {
      result: picks.map((m) => ({ ...m, needs_bytes: neededBytes(m) })),
      summary: picks.length ? picks.map((m) => `${m.id} (${m.parameters}, ${m.license}; ${m.strengths}; but ${m.tradeoffs}) → ${m.ref}`).join("\n") : `nothing in the catalog fits in ${gib(memory)}`,
    };
  },
});

const pullSchema = z.object({ model: z.string().min(1).max(2048).regex(/^(hf:|https?:\/\/)/, "a hf: reference or an http(s) URL") }).strict();
const pullModel = tool({
  name: "pull_model",
  description: "Download a model (hf:owner/repo:QUANT, hf:owner/repo/file.gguf or an http(s) URL) into Nimble's model store.",
  schema: pullSchema,
  parameters: { type: "object", properties: { model: { type: "string", pattern: "^(hf:|https?://)[^\\s]{1,500}$" } }, required: ["model"], additionalProperties: false },
  changes: true,
  plan: (a) => `download ${a.model} into the model store`,
  async run(args, { client, say }) {
    let done: { name: string; path: string; downloaded: boolean } | undefined;
    let failure: string | undefined;
    let lastPercent = -1;
    await client.stream("/v1/admin/pull", { model: args.model }, (e) => {
      if (e.status === "downloading" && e.total) {
        const percent = Math.floor((100 * e.completed) / e.total);
        if (percent >= lastPercent + 25 || percent === 100) {
          lastPercent = percent;
          say(`  ${e.file}: ${percent}%`);
        }
      } else if (e.status === "success") done = { name: e.name, path: e.path, downloaded: e.downloaded };
      else if (e.error) failure = e.error.message;
    });
    if (!done) throw new Error(`the pull failed: ${failure ?? "no result"}`);
    return { result: { name: done.name, downloaded: done.downloaded }, summary: `pulled ${args.model} as ${done.name}${done.downloaded ? "" : " (already in the store)"}` };
  },
});

const loadSchema = z.object({ model: z.string().min(1).max(2048) }).strict();
const loadModel = tool({
  name: "load_model",
  description: "Load a model this Nimble server is configured to serve (by id, or by the source reference it was pulled from).",
  schema: loadSchema,
  parameters: { type: "object", properties: { model: str(512) }, required: ["model"], additionalProperties: false },
  changes: true,
  plan: (a) => `load ${a.model} into memory`,
  async run(args, { client }) {
    const models = (await client.get("/v1/admin/models")).data as { id: string; source: string; kind: string }[];
    const entry = models.find((m) => m.id === args.model || m.source === args.model);
    if (!entry) throw new Error(`this server is not configured to serve ${args.model}; write a nimble.yaml with it and restart \`nimble serve --config nimble.yaml\``);
    const loaded = await client.post(`/v1/admin/models/${encodeURIComponent(entry.id)}/load`);
    // The serving profile this machine fits, and why (chat models; the others have none).
    const profiles = entry.kind === "chat" ? await client.get(`/v1/admin/models/${encodeURIComponent(entry.id)}/profiles`).catch(() => undefined) : undefined;
    const profile = profiles?.chosen ? `; serving profile ${profiles.chosen}: ${profiles.reason}` : profiles?.reason ? `; no serving profile fits: ${profiles.reason}` : "";
    return { result: { ...loaded, ...(profiles ? { profiles } : {}) }, summary: `loaded ${entry.id} (${gib(loaded.memory_bytes ?? 0)})${profile}`, undo: { type: "unload_model", model: entry.id } };
  },
});

const storeSchema = z.object({ name: z.string().min(1).max(256), folder: z.string().min(1) }).strict();
const createStore = tool({
  name: "create_document_store",
  description: "Create a vector store from the documents in a folder (txt, md, pdf, html, docx) and wait until they are ingested.",
  schema: storeSchema,
  parameters: { type: "object", properties: { name: str(64), folder: str(512) }, required: ["name", "folder"], additionalProperties: false },
  changes: true,
  plan: (a) => `create the document store "${a.name}" from ${listDocuments(a.folder).length} files in ${a.folder}`,
  async run(args, { client, say }) {
    const files = listDocuments(args.folder);
    if (files.length === 0) throw new Error(`no documents (${DOCUMENT_EXTENSIONS.source}) in ${args.folder}`);
    const store = await client.post("/v1/vector_stores", { name: args.name });
    const fileIds: string[] = [];
    const undo: UndoRecord = { type: "delete_store", store_id: store.id, file_ids: fileIds };
    try {
      for (const path of files) {
        const form = new FormData();
        form.append("purpose", "assistants");
        form.append("file", new Blob([readFileSync(path)]), basename(path));
        fileIds.push((await client.post("/v1/files", form)).id);
        say(`  uploaded ${basename(path)}`);
      }
      let batch = await client.post(`/v1/vector_stores/${store.id}/file_batches`, { file_ids: fileIds });
      while (batch.status === "in_progress") {
        await new Promise((r) => setTimeout(r, 200));
        batch = await client.get(`/v1/vector_stores/${store.id}/file_batches/${batch.id}`);
      }
      const counts = batch.file_counts as { completed: number; failed: number };
      if (batch.status !== "completed" || counts.failed > 0) throw new Error(`ingestion ended ${batch.status} with ${counts.failed} failed files`);
      return { result: { id: store.id, name: args.name, files: counts.completed }, summary: `created the document store ${args.name} (${store.id}) with ${counts.completed} files`, undo };
    } catch (err) {
      // Never leave a half-ingested store behind as if complete.
      await undoAction(client, undo).catch(() => {});
      throw err;
    }
  },
});

function listDocuments(folder: string): string[] {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) return [];
  return readdirSync(folder).filter((f) => DOCUMENT_EXTENSIONS.test(f)).sort().map((f) => join(folder, f));
}

const keySchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, "1-64 letters, digits, '.', '_' or '-'"),
    scope: z.enum(["inference", "admin"]).default("inference"),
    rpm: z.number().int().nonnegative().optional(),
  })
  .strict();
const createKey = tool({
  name: "create_api_key",
  description: "Create an API key (scope inference for applications, admin for operators), optionally limited in requests per minute.",
  schema: keySchema,
  parameters: {
    type: "object",
    properties: { name: { type: "string", pattern: "^[A-Za-z0-9._-]{1,64}$" }, scope: { type: "string", enum: ["inference", "admin"] }, rpm: { type: "integer", minimum: 0, maximum: 1000000 } },
    required: ["name"],
    additionalProperties: false,
  },
  changes: true,
  plan: (a) => `create the ${a.scope} API key "${a.name}"${a.rpm ? ` limited to ${a.rpm} requests/minute` : ""}`,
  async run(args, { client, say }) {
    const created = await client.post("/v1/admin/keys", { name: args.name, scope: args.scope, limits: args.rpm === undefined ? {} : { rpm: args.rpm } });
    say(`  the key (shown once, store it now): ${created.key}`);
    return { result: { name: created.name, scope: created.scope, hint: created.hint }, summary: `created the ${created.scope} key ${created.name} (${created.hint})`, undo: { type: "revoke_key", name: created.name } };
  },
});

const configSchema = z
  .object({
    path: z.string().min(1).default("nimble.yaml"),
    model: z.string().min(1).optional(),
    served_model_name: z.string().min(1).optional(),
    embedding_model: z.string().min(1).optional(),
    parallel: z.number().int().positive().max(256).optional(),
    ctx_size: z.number().int().positive().optional(),
    host: z.string().min(1).optional(),
    port: z.number().int().min(0).max(65535).optional(),
    guardrails: z.string().min(1).optional(),
  })
  .strict();
const writeConfig = tool({
  name: "write_config",
  description: "Write the setup as a nimble.yaml that `nimble serve --config` reads, so it is reproducible (guardrails: the file write_guardrails wrote).",
  schema: configSchema,
  parameters: {
    type: "object",
    properties: {
      path: str(512),
      ...servingProperties(),
      host: str(256),
      port: { type: "integer", minimum: 0, maximum: 65535 },
      guardrails: str(512),
    },
    additionalProperties: false,
  },
  changes: true,
  plan: (a) => `write ${resolve(a.path)}${existsSync(a.path) ? " (replacing the file there; undo restores it)" : ""}`,
  async run(args) {
    const config = {
      ...(args.model ? { model: args.model } : {}),
      ...(args.served_model_name ? { servedModelName: args.served_model_name } : {}),
      ...(args.embedding_model ? { embeddingModel: args.embedding_model } : {}),
      ...(args.parallel ? { parallel: args.parallel } : {}),
      ...(args.ctx_size ? { ctxSize: args.ctx_size } : {}),
      ...(args.host ? { host: args.host } : {}),
      ...(args.port !== undefined ? { port: args.port } : {}),
      ...(args.guardrails ? { guardrails: args.guardrails } : {}),
    };
    const path = resolve(args.path);
    const previous = readIfExists(path);
    // Checked by the config loader before it takes the file's place.
    writeChecked(path, `# Written by \`nimble assistant\`; serve it with: nimble serve --config ${basename(path)}\n${stringify(config)}`, (tmp) => resolveConfig({}, {}, tmp));
    return { result: { path, config }, summary: `wrote ${path}`, undo: { type: "restore_file", path, previous } };
  },
});

export const TOOLS: readonly Tool[] = [inspectMachine, recommendModels, pullModel, loadModel, createStore, createKey, writeGuardrails, runBenchmark, writeConfig, writeKubernetes];

export function findTool(name: string): Tool | undefined {
  return TOOLS.find((t) => t.name === name);
}

/**
 * Parameters in OpenAI's strict form: every property required, the optional ones nullable (a
 * grammar from a JSON schema emits every property; null then stands for "not given", and
 * executeTool drops nulls before validating).
 */
function strictParameters(p: Record<string, unknown>): Record<string, unknown> {
  const properties = (p.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set((p.required as string[] | undefined) ?? []);
  return {
    ...p,
    properties: Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, required.has(k) ? v : { anyOf: [v, { type: "null" }] }])),
    required: Object.keys(properties),
  };
}

/** The tools in OpenAI's `tools` shape (`strict`: OpenAI's strict form, for grammar-constrained calls). */
export function toolSpecs(options: { strict?: boolean } = {}): { type: "function"; function: { name: string; description: string; parameters: Record<string, unknown>; strict?: boolean } }[] {
  return TOOLS.map((t) => ({ type: "function", function: { name: t.name, description: t.description, ...(options.strict ? { parameters: strictParameters(t.parameters), strict: true } : { parameters: t.parameters }) } }));
}

/** Reverses one logged action. */
export async function undoAction(client: NimbleClient, undo: UndoRecord): Promise<string> {
  switch (undo.type) {
    case "unload_model":
      await client.post(`/v1/admin/models/${encodeURIComponent(undo.model)}/unload`);
      return `unloaded ${undo.model}`;
    case "delete_store":
      await client.delete(`/v1/vector_stores/${undo.store_id}`).catch(() => {});
      for (const id of undo.file_ids) await client.delete(`/v1/files/${id}`).catch(() => {});
      return `removed the document store ${undo.store_id} and its ${undo.file_ids.length} files`;
    case "revoke_key":
      await client.delete(`/v1/admin/keys/${encodeURIComponent(undo.name)}`);
      return `revoked the key ${undo.name}`;
    case "restore_guardrails":
      return restoreGuardrails(client, undo);
    case "remove_dir":
      rmSync(undo.path, { recursive: true, force: true });
      return `removed ${undo.path}`;
    case "restore_file":
      restoreFile(undo.path, undo.previous);
      return `${undo.previous === null ? "removed" : "restored"} ${undo.path}`;
  }
}
