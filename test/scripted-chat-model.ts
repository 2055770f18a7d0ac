/**
 * A scripted OpenAI-compatible chat model for the setup assistant's tests (the only mock: a real
 * language model cannot run here): it answers each /v1/chat/completions request with the next step
 * of a script — tool calls or plain text — and records what it was sent.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type Step = { calls: { name: string; arguments: string }[] } | { content: string };

export const call = (name: string, args: unknown) => ({ name, arguments: typeof args === "string" ? args : JSON.stringify(args) });

export class ScriptedModel {
  readonly requests: any[] = [];
  private script: Step[] = [];
  server!: Server;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => (body += d));
      req.on("end", () => {
        this.requests.push(JSON.parse(body));
        const step = this.script.shift() ?? { content: "Done." };
        const message = "calls" in step
          ? { role: "assistant", content: null, tool_calls: step.calls.map((c, i) => ({ id: `call_${this.requests.length}_${i}`, type: "function", function: c })) }
          : { role: "assistant", content: step.content };
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ id: "x", object: "chat.completion", created: 0, model: "scripted", choices: [{ index: 0, message, finish_reason: "calls" in step ? "tool_calls" : "stop" }] }));
      });
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  play(script: Step[]): void {
    this.script = [...script];
    this.requests.length = 0;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}
