/** A small HTTP client for Nimble's own APIs, with the admin key: the only way the assistant acts. */
export class NimbleApiError extends Error {
  override name = "NimbleApiError";
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export class NimbleClient {
  constructor(readonly url: string, readonly key?: string) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.key ? { authorization: `Bearer ${this.key}` } : {}), ...extra };
  }

  /** fetch, with a plain message when the server cannot be reached. */
  private async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(this.url + path, init);
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new NimbleApiError(0, `cannot reach Nimble at ${this.url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`);
    }
  }

  async request<T = any>(method: string, path: string, body?: unknown): Promise<T> {
    const isForm = body instanceof FormData;
    const res = await this.send(path, {
      method,
      headers: this.headers(body === undefined || isForm ? {} : { "content-type": "application/json" }),
      ...(body === undefined ? {} : { body: isForm ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = { error: { message: text.slice(0, 200) } };
    }
    if (!res.ok) throw new NimbleApiError(res.status, `${method} ${path}: HTTP ${res.status}: ${json?.error?.message ?? "request failed"}`);
    return json as T;
  }

  get<T = any>(path: string): Promise<T> { return this.request<T>("GET", path); }
  post<T = any>(path: string, body: unknown = {}): Promise<T> { return this.request<T>("POST", path, body); }
  delete<T = any>(path: string): Promise<T> { return this.request<T>("DELETE", path); }

  /** POSTs and reads a server-sent event stream, calling `onEvent` with each JSON payload. */
  async stream(path: string, body: unknown, onEvent: (event: any) => void): Promise<void> {
    const res = await this.send(path, { method: "POST", headers: this.headers({ "content-type": "application/json" }), body: JSON.stringify(body) });
    if (!res.ok || !res.body) throw new NimbleApiError(res.status, `POST ${path}: HTTP ${res.status}: ${(await res.text()).slice(0, 200)}`);
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffered.indexOf("\n\n")) >= 0) {
        const frame = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = frame.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (data && data !== "[DONE]") onEvent(JSON.parse(data));
      }
    }
  }
}
