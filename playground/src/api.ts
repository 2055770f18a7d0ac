/**
 * The playground's only way to the server: Nimble's public HTTP API, with the API key kept in
 * sessionStorage. Errors come back in OpenAI's shape and are turned into ApiFailure; a 404 means
 * the feature is not enabled on this server.
 */
const KEY_STORAGE = "nimble.apiKey";

export function getKey(): string {
  try {
    return sessionStorage.getItem(KEY_STORAGE) ?? "";
  } catch {
    return "";
  }
}

export function setKey(key: string): void {
  try {
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // Storage refused (private mode): the key lasts until the page closes.
  }
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null = null,
  ) {
    super(message);
  }
  /** The endpoint does not exist on this server (the feature is off or not built in). */
  get notEnabled(): boolean {
    return this.status === 404 && this.code !== "model_not_found";
  }
}

export function authHeaders(): Record<string, string> {
  const key = getKey();
  return key ? { authorization: `Bearer ${key}` } : {};
}

async function failure(res: Response): Promise<ApiFailure> {
  let message = `${res.status} ${res.statusText}`;
  let code: string | null = null;
  try {
    const body = (await res.json()) as { error?: { message?: string; code?: string | null } };
    if (body.error?.message) message = body.error.message;
    code = body.error?.code ?? null;
  } catch {
    // Not JSON: the status line says enough.
  }
  return new ApiFailure(res.status, message, code);
}

/** A JSON request; throws ApiFailure for any non-2xx answer. */
export async function api<T>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal } = {}): Promise<T> {
  const res = await fetch(path, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: { ...authHeaders(), ...(init.body === undefined ? {} : { "content-type": "application/json" }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: init.signal,
  });
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/** A GET returning text (Prometheus metrics). */
export async function apiText(path: string): Promise<string> {
  const res = await fetch(path, { headers: authHeaders() });
  if (!res.ok) throw await failure(res);
  return res.text();
}

/** POSTs `body` and yields each `data:` event of the SSE answer (JSON-parsed) until [DONE]. */
export async function* streamEvents(path: string, body: unknown, signal?: AbortSignal): AsyncGenerator<any> {
  const res = await fetch(path, { method: "POST", headers: { ...authHeaders(), "content-type": "application/json", accept: "text/event-stream" }, body: JSON.stringify(body), signal });
  if (!res.ok) throw await failure(res);
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, "");
        const data = block.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n");
        if (data === "") continue;
        if (data === "[DONE]") return;
        yield JSON.parse(data);
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** Uploads a file to /v1/files (multipart) with upload progress (0–1). */
export function uploadFile(file: File, purpose: string, onProgress: (fraction: number) => void): Promise<{ id: string; filename: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/files");
    for (const [k, v] of Object.entries(authHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onerror = () => reject(new ApiFailure(0, "The upload failed: the server could not be reached."));
    xhr.onload = () => {
      let body: any;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = undefined;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiFailure(xhr.status, body?.error?.message ?? `${xhr.status} ${xhr.statusText}`, body?.error?.code ?? null));
    };
    const form = new FormData();
    form.append("purpose", purpose);
    form.append("file", file, file.name);
    xhr.send(form);
  });
}

export function describeError(err: unknown): string {
  if (err instanceof ApiFailure) return err.notEnabled ? "Not enabled on this server." : err.message;
  if (err instanceof DOMException && err.name === "AbortError") return "Stopped.";
  return err instanceof Error ? err.message : String(err);
}
