/**
 * A scripted OpenAI-compatible upstream for the router's tests (the "other engines" case: vLLM,
 * llama.cpp's server, Ollama): a tiny node:http server whose models, health, metrics and answers the
 * test sets, and which records every request it got and whether its client went away early.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface Seen {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
  /** The router closed the connection before the answer ended (a cancelled request). */
  cancelled: boolean;
}

export type Behaviour = (req: IncomingMessage, res: ServerResponse, body: any) => void | Promise<void>;

export interface ScriptedUpstream {
  url: string;
  name: string;
  seen: Seen[];
  models: string[];
  /** LoRA adapters among `models`: adapter → base model (listed with `parent`, as vLLM and Nimble do). */
  parents: Record<string, string>;
  /** Status of /v1/health/ready (and its message). */
  health: { status: number; message: string };
  /** /v1/metrics text (404 when undefined). */
  metrics: string | undefined;
  /** How chat and completion requests are answered (default: a plain completion). */
  behaviour: Behaviour;
  /** Forgets what was seen. */
  reset(): void;
  close(): Promise<void>;
}

export function chatAnswer(model: string, text: string, by: string) {
  return { id: `chatcmpl-${by}`, object: "chat.completion", created: 0, model, choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } };
}

export const answerOk: Behaviour = (_req, res, body) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify(chatAnswer(String(body?.model), "ok", "scripted")));
};

export async function startScripted(name: string, models: string[] = ["other-model"], behaviour: Behaviour = answerOk): Promise<ScriptedUpstream> {
  const up: ScriptedUpstream = {
    url: "", name, seen: [], models, parents: {}, health: { status: 200, message: "ready" }, metrics: undefined, behaviour,
    reset() { this.seen.length = 0; },
    close: async () => { server.closeAllConnections(); await new Promise((r) => server.close(r)); },
  };
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const path = (req.url ?? "/").split("?")[0]!;
    if (req.method === "GET") {
      if (path === "/v1/health/ready") {
        res.writeHead(up.health.status, { "content-type": "application/json" });
        return res.end(JSON.stringify({ message: up.health.message, ready: up.health.status === 200 }));
      }
      if (path === "/v1/models") {
        res.writeHead(200, { "content-type": "application/json" });
        return res.end(JSON.stringify({ object: "list", data: up.models.map((id) => ({ id, object: "model", owned_by: name, parent: up.parents[id] ?? null })) }));
      }
      if (path === "/v1/metrics" && up.metrics !== undefined) {
        res.writeHead(200, { "content-type": "text/plain" });
        return res.end(up.metrics);
      }
      res.writeHead(404);
      return res.end("not found");
    }
    let body: any;
    try { body = JSON.parse(Buffer.concat(chunks).toString("utf8")); } catch { body = undefined; }
    const seen: Seen = { path, headers: req.headers, body, cancelled: false };
    up.seen.push(seen);
    res.on("close", () => { if (!res.writableFinished) seen.cancelled = true; });
    try {
      await up.behaviour(req, res, body);
    } catch {
      res.destroy();
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  up.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return up;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
