/** Server-sent events, OpenAI style: `data: {json}` frames ending with `data: [DONE]`. */
import type { FastifyReply } from "fastify";

export class SseWriter {
  constructor(private readonly reply: FastifyReply) {}

  /** Takes over the response from Fastify and sends the event-stream headers. */
  open(headers: Record<string, string> = {}): void {
    this.reply.hijack();
    this.reply.raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
      ...headers,
    });
  }

  get closed(): boolean {
    return this.reply.raw.destroyed || this.reply.raw.writableEnded;
  }

  send(data: unknown): void {
    if (!this.closed) this.reply.raw.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  /** A named event (Anthropic's streams name each event). */
  event(name: string, data: unknown): void {
    if (!this.closed) this.reply.raw.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Ends the stream without OpenAI's [DONE] marker. */
  end(): void {
    if (!this.closed) this.reply.raw.end();
  }

  /** Sends an error event in OpenAI's shape (the status line is already sent). */
  error(body: unknown): void {
    this.send(body);
  }

  done(): void {
    if (this.closed) return;
    this.reply.raw.write("data: [DONE]\n\n");
    this.reply.raw.end();
  }
}
