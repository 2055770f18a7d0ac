/** Server-sent events, OpenAI style: `data: {json}` frames ending with `data: [DONE]`. */
import type { OutgoingHttpHeaders } from "node:http";
import type { FastifyReply } from "fastify";
import { untilExpired } from "./security/limits.js";

declare module "fastify" {
  interface FastifyRequest {
    /** Rewrites each frame before it is sent (guardrails add guardrails_data and error events); one frame may become several. */
    sseFrames?: (data: unknown) => unknown[];
  }
}

export class SseWriter {
  private idle: NodeJS.Timeout | undefined;

  constructor(private readonly reply: FastifyReply) {}

  /**
   * Takes over the response from Fastify and sends the event-stream headers, with those already set
   * on the reply (request id, security, CORS, rate limits). Starts the idle timer (--stream-idle-timeout).
   */
  open(headers: Record<string, string> = {}): void {
    this.reply.hijack();
    const raw = this.reply.raw;
    const lifetime = this.reply.request.lifetime;
    if (lifetime && lifetime.streamIdleMs > 0) {
      this.idle = setTimeout(() => {
        lifetime.expire("idle");
        // A client that stopped reading would keep the socket: drop it if the end cannot be sent.
        setTimeout(() => { if (!raw.writableFinished) raw.destroy(); }, 1000).unref();
      }, lifetime.streamIdleMs).unref();
      raw.once("close", () => clearTimeout(this.idle));
    }
    raw.writeHead(200, {
      ...(this.reply.getHeaders() as OutgoingHttpHeaders),
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

  /** `work`, or the 408 as soon as the request's deadline passes or the stream goes idle. */
  untilExpired<T>(work: Promise<T>): Promise<T> {
    return untilExpired(this.reply.request, work);
  }

  send(data: unknown): void {
    for (const frame of this.reply.request.sseFrames?.(data) ?? [data]) this.write(`data: ${JSON.stringify(frame)}\n\n`);
  }

  /** A named event (Anthropic's streams name each event). */
  event(name: string, data: unknown): void {
    const [frame] = this.reply.request.sseFrames?.(data) ?? [data];
    this.write(`event: ${name}\ndata: ${JSON.stringify(frame)}\n\n`);
  }

  private write(frame: string): void {
    if (this.closed) return;
    // A client that stopped reading (its socket is backed up) counts as silence too.
    if (!this.reply.raw.writableNeedDrain) this.idle?.refresh();
    this.reply.raw.write(frame);
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
