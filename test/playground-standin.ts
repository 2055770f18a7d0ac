/**
 * A scripted stand-in for the endpoints the playground's documents and guardrails tabs use while
 * those features are built on other branches (RAG: files, vector stores, search, grounded chat
 * with citations; guardrails: configs, checks, guardrails_data in chat). It follows CONTRACT.md and
 * OpenAI's shapes, and serves the real built playground through the real registerPlayground.
 * Once RAG and guardrails are merged, playground-features.test.ts should run on a real Nimble.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { registerPlayground } from "../src/api/playground.js";

interface StoredFile {
  id: string;
  filename: string;
  text: string;
}

/** Pages of a text file: split on form feeds (\f), as the stand-in's "page" attribute. */
function chunksOf(file: StoredFile): { text: string; page: number }[] {
  return file.text.split("\f").flatMap((pageText, i) => pageText.split(/\n\s*\n/).filter((p) => p.trim()).map((text) => ({ text: text.trim(), page: i + 1 })));
}

function score(query: string, text: string): number {
  const words = query.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  if (words.length === 0) return 0;
  const hay = text.toLowerCase();
  return words.filter((w) => hay.includes(w)).length / words.length;
}

const RAILS = [
  { name: "pii", type: "input", action: "mask" },
  { name: "jailbreak", type: "input", action: "block" },
];

/** The rails that fire on a text: PII (e-mail addresses) masked, a jailbreak phrase blocked. */
function railsFor(text: string): { name: string; type: string; action: string; detail?: string }[] {
  const fired = [];
  if (/\S+@\S+\.\w+/.test(text)) fired.push({ ...RAILS[0]!, detail: "email" });
  if (/ignore (all )?previous instructions/i.test(text)) fired.push({ ...RAILS[1]!, detail: "jailbreak phrase" });
  return fired;
}

export async function startStandIn(): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify();
  const stores = new Map<string, { id: string; name: string; files: Map<string, { polls: number }> }>();
  const files = new Map<string, StoredFile>();
  let n = 0;
  const id = (prefix: string) => `${prefix}_${++n}`;
  const notFound = (what: string) => ({ error: { message: `No ${what} found.`, type: "invalid_request_error", param: null, code: "not_found" } });

  app.addContentTypeParser(/^multipart\/form-data/, { parseAs: "buffer" }, (_req, body, done) => done(null, body));
  registerPlayground(app);

  app.get("/v1/whoami", async () => ({ object: "whoami", keys_required: false, name: null, scope: "admin" }));
  app.get("/v1/models", async () => ({ object: "list", data: [{ id: "standin", object: "model", owned_by: "nimble", nimble: { kind: "chat", state: "loaded" } }] }));
  app.get("/v1/admin/models", async () => ({ object: "list", budget_bytes: 1 << 30, data: [] }));
  app.get("/v1/metadata", async () => ({ version: "standin" }));
  app.get("/v1/metrics", async (_req, reply) => reply.type("text/plain").send(""));

  app.post("/v1/files", async (request, reply) => {
    const raw = (request.body as Buffer).toString("utf8");
    const m = /filename="([^"]+)"[\s\S]*?\r\n\r\n([\s\S]*?)\r\n--/.exec(raw);
    if (!m) return reply.code(400).send({ error: { message: "No file in the form.", type: "invalid_request_error", param: "file", code: null } });
    const file = { id: id("file"), filename: m[1]!, text: m[2]! };
    files.set(file.id, file);
    return { id: file.id, object: "file", bytes: Buffer.byteLength(file.text), created_at: Math.floor(Date.now() / 1000), filename: file.filename, purpose: "assistants", status: "processed" };
  });
  app.get("/v1/files", async () => ({ object: "list", data: [...files.values()].map((f) => ({ id: f.id, object: "file", filename: f.filename })) }));

  const storeObject = (s: { id: string; name: string; files: Map<string, { polls: number }> }) => {
    const done = [...s.files.values()].filter((f) => f.polls >= 2).length;
    return { id: s.id, object: "vector_store", name: s.name, status: "completed", created_at: 0, file_counts: { in_progress: s.files.size - done, completed: done, failed: 0, cancelled: 0, total: s.files.size } };
  };
  const fileObject = (storeId: string, fileId: string, polls: number) => ({ id: fileId, object: "vector_store.file", vector_store_id: storeId, status: polls >= 2 ? "completed" : "in_progress", last_error: null, created_at: 0, usage_bytes: 0 });

  app.get("/v1/vector_stores", async () => ({ object: "list", data: [...stores.values()].map(storeObject), has_more: false }));
  app.post("/v1/vector_stores", async (request) => {
    const store = { id: id("vs"), name: (request.body as { name: string }).name, files: new Map() };
    stores.set(store.id, store);
    return storeObject(store);
  });
  app.get("/v1/vector_stores/:id/files", async (request, reply) => {
    const store = stores.get((request.params as { id: string }).id);
    if (!store) return reply.code(404).send(notFound("vector store"));
    return { object: "list", data: [...store.files].map(([fid, f]) => fileObject(store.id, fid, f.polls)), has_more: false };
  });
  app.post("/v1/vector_stores/:id/files", async (request, reply) => {
    const store = stores.get((request.params as { id: string }).id);
    const fileId = (request.body as { file_id: string }).file_id;
    if (!store || !files.has(fileId)) return reply.code(404).send(notFound("file"));
    store.files.set(fileId, { polls: 0 });
    return fileObject(store.id, fileId, 0);
  });
  // Ingestion "takes" two polls.
  app.get("/v1/vector_stores/:id/files/:fid", async (request, reply) => {
    const { id: storeId, fid } = request.params as { id: string; fid: string };
    const entry = stores.get(storeId)?.files.get(fid);
    if (!entry) return reply.code(404).send(notFound("file"));
    entry.polls++;
    return fileObject(storeId, fid, entry.polls);
  });

  const search = (storeIds: string[], query: string, max: number) =>
    storeIds
      .flatMap((sid) => [...(stores.get(sid)?.files.keys() ?? [])].map((fid) => ({ sid, file: files.get(fid)! })))
      .flatMap(({ sid, file }) => chunksOf(file).map((c) => ({ sid, file, ...c, score: score(query, c.text) })))
      .filter((c) => c.score > 0)
      .sort((a, b) => b.score - a.score)
      .slice(0, max);

  app.post("/v1/vector_stores/:id/search", async (request) => {
    const { query, max_num_results } = request.body as { query: string; max_num_results?: number };
    const hits = search([(request.params as { id: string }).id], query, max_num_results ?? 10);
    return { object: "vector_store.search_results.page", search_query: query, data: hits.map((h) => ({ file_id: h.file.id, filename: h.file.filename, score: h.score, attributes: { page: h.page }, content: [{ type: "text", text: h.text }] })), has_more: false, next_page: null };
  });

  app.get("/v1/guardrail/configs", async () => ({ object: "list", data: [{ id: "default", default: true, rails: RAILS }] }));
  app.post("/v1/guardrail/checks", async (request) => {
    const { messages } = request.body as { messages: { role: string; content: string }[] };
    const text = messages.map((m) => m.content).join("\n");
    const fired = railsFor(text);
    const rails_status = Object.fromEntries(RAILS.map((r) => {
      const hit = fired.find((f) => f.name === r.name);
      return [r.name, { status: hit ? (r.action === "block" ? "blocked" : "masked") : "success", type: r.type, latency_ms: 0.4, ...(hit ? { detail: hit.detail } : {}) }];
    }));
    return {
      status: fired.some((f) => f.action === "block") ? "blocked" : "success",
      rails_status,
      messages: messages.map((m) => ({ ...m, content: m.content.replace(/\S+@\S+\.\w+/g, "[EMAIL]") })),
      guardrails_data: { config_id: "default", activated_rails: fired },
    };
  });

  app.post("/v1/chat/completions", async (request, reply) => {
    const body = request.body as { messages: { role: string; content: string }[]; stream?: boolean; rag?: { vector_store_ids: string[] }; guardrails?: { config_id: string } };
    const question = body.messages.at(-1)?.content ?? "";
    const fired = railsFor(question);
    const blocked = fired.some((f) => f.action === "block");
    const hits = body.rag && !blocked ? search(body.rag.vector_store_ids, question, 3) : [];
    const citations = hits.map((h, i) => ({ index: i + 1, vector_store_id: h.sid, file_id: h.file.id, filename: h.file.filename, text: h.text, page: h.page, heading_path: [], char_start: 0, char_end: h.text.length, score: h.score }));
    const content = blocked ? "I can't help with that." : hits.length > 0 ? `From the documents: ${hits[0]!.text} [1]` : "A scripted answer.";
    const extra = { ...(fired.length > 0 ? { guardrails_data: { config_id: body.guardrails?.config_id ?? "default", activated_rails: fired } } : {}), ...(body.rag ? { grounded: hits.length > 0, retrieval: { search_query: question, query_truncated: false, withheld: 0, masked: 0 } } : {}) };
    const finish = blocked ? "content_filter" : "stop";
    const base = { id: "chatcmpl-standin", created: 0, model: "standin" };
    if (!body.stream) {
      return { ...base, object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content, ...(body.rag ? { citations } : {}) }, finish_reason: finish }], usage: { prompt_tokens: 5, completion_tokens: 8, total_tokens: 13 }, ...extra };
    }
    reply.raw.writeHead(200, { "content-type": "text/event-stream" });
    const send = (obj: unknown) => reply.raw.write(`data: ${JSON.stringify(obj)}\n\n`);
    send({ ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta: { role: "assistant", content: "", ...(body.rag ? { citations } : {}) }, finish_reason: null }], ...extra });
    for (const word of content.split(/(?<= )/)) send({ ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: word }, finish_reason: null }] });
    send({ ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta: {}, finish_reason: finish }] });
    send({ ...base, object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 5, completion_tokens: 8, total_tokens: 13 } });
    reply.raw.end("data: [DONE]\n\n");
    return reply;
  });

  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address() as { port: number };
  return { app, url: `http://127.0.0.1:${address.port}` };
}
