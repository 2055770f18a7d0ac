/**
 * A scripted stand-in server with the guardrails endpoints but none of the RAG ones, serving the
 * real built playground through the real registerPlayground: it shows how the playground degrades
 * when a feature's endpoints answer 404 (the guardrails tab itself is tested on a real Nimble).
 */
import Fastify, { type FastifyInstance } from "fastify";
import { registerPlayground } from "../src/api/playground.js";

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
  registerPlayground(app);

  app.get("/v1/whoami", async () => ({ object: "whoami", keys_required: false, name: null, scope: "admin" }));
  app.get("/v1/models", async () => ({ object: "list", data: [{ id: "standin", object: "model", owned_by: "nimble", nimble: { kind: "chat", state: "loaded" } }] }));
  app.get("/v1/admin/models", async () => ({ object: "list", budget_bytes: 1 << 30, data: [] }));
  app.get("/v1/metadata", async () => ({ version: "standin" }));
  app.get("/v1/metrics", async (_req, reply) => reply.type("text/plain").send(""));

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
    const body = request.body as { messages: { role: string; content: string }[]; stream?: boolean; guardrails?: { config_id: string } };
    const question = body.messages.at(-1)?.content ?? "";
    const fired = railsFor(question);
    const blocked = fired.some((f) => f.action === "block");
    const content = blocked ? "I can't help with that." : "A scripted answer.";
    const extra = fired.length > 0 ? { guardrails_data: { config_id: body.guardrails?.config_id ?? "default", activated_rails: fired } } : {};
    const finish = blocked ? "content_filter" : "stop";
    const base = { id: "chatcmpl-standin", created: 0, model: "standin" };
    if (!body.stream) {
      return { ...base, object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: finish }], usage: { prompt_tokens: 5, completion_tokens: 8, total_tokens: 13 }, ...extra };
    }
    reply.raw.writeHead(200, { "content-type": "text/event-stream" });
    const send = (obj: unknown) => reply.raw.write(`data: ${JSON.stringify(obj)}\n\n`);
    send({ ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }], ...extra });
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
