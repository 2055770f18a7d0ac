/**
 * Documents: OpenAI's files and vector stores endpoints. Create a store, upload files into it with
 * per-file upload progress and ingestion status (polled until completed or failed), search it
 * (ranked chunks with scores), and ask a question grounded in it (the `rag` chat field) whose
 * citations open the chunk with its file and page.
 */
import { useEffect, useState } from "preact/hooks";
import { api, ApiFailure, describeError, uploadFile } from "../api";
import { ChunkDialog, Markdown, NotEnabled, ProgressBar } from "../components";
import type { ActivatedRail, Citation } from "../store";
import { Citations, RailNotice } from "./Chat";

interface Store {
  id: string;
  name: string | null;
  status?: string;
  file_counts?: { completed: number; in_progress: number; failed: number; total: number };
}

interface StoreFile {
  id: string;
  status: string;
  last_error?: { message?: string } | null;
}

interface Upload {
  key: string;
  name: string;
  fileId?: string;
  progress: number;
  status: "uploading" | "in_progress" | "completed" | "failed" | "cancelled";
  error?: string;
}

interface SearchHit {
  file_id: string;
  filename?: string;
  score: number;
  attributes?: Record<string, unknown> | null;
  content: { type: string; text: string }[];
  page?: number | null;
  heading_path?: string[] | null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function DocumentsTab() {
  const [stores, setStores] = useState<Store[] | null | undefined>(undefined);
  const [error, setError] = useState("");
  const [selected, setSelected] = useState<string>("");
  const [newName, setNewName] = useState("");

  const refresh = async () => {
    try {
      const list = await api<{ data: Store[] }>("/v1/vector_stores?limit=100");
      setStores(list.data);
      setSelected((s) => s || list.data[0]?.id || "");
    } catch (err) {
      if (err instanceof ApiFailure && err.notEnabled) setStores(null);
      else setError(describeError(err));
    }
  };
  useEffect(() => void refresh(), []);

  const create = async (e: Event) => {
    e.preventDefault();
    if (!newName.trim()) return;
    try {
      const store = await api<Store>("/v1/vector_stores", { body: { name: newName.trim() } });
      setNewName("");
      setSelected(store.id);
      await refresh();
    } catch (err) {
      setError(describeError(err));
    }
  };

  if (stores === null) return <NotEnabled what="Documents (files and vector stores)" />;
  return (
    <div class="documents-layout">
      <aside class="sidebar" aria-label="Vector stores">
        <h2>Stores</h2>
        <form class="stack" onSubmit={create}>
          <label for="store-name">New store name</label>
          <input id="store-name" value={newName} onInput={(e) => setNewName((e.target as HTMLInputElement).value)} />
          <button type="submit" disabled={!newName.trim()}>Create store</button>
        </form>
        {stores === undefined ? <p class="muted">Loading…</p> : stores.length === 0 ? <p class="muted">No stores yet.</p> : null}
        <ul class="conversation-list">
          {(stores ?? []).map((s) => (
            <li key={s.id}>
              <button class={s.id === selected ? "conv active" : "conv"} aria-current={s.id === selected ? "true" : undefined} onClick={() => setSelected(s.id)}>
                {s.name ?? s.id}
                {s.file_counts && <span class="muted"> · {s.file_counts.completed}/{s.file_counts.total} files</span>}
              </button>
            </li>
          ))}
        </ul>
        {error && <p class="error" role="alert">{error}</p>}
      </aside>
      {selected ? <StorePanel key={selected} storeId={selected} onChange={refresh} /> : <p class="muted">Create a store to upload documents into.</p>}
    </div>
  );
}

function StorePanel({ storeId, onChange }: { storeId: string; onChange: () => Promise<void> }) {
  const [files, setFiles] = useState<StoreFile[]>([]);
  const [names, setNames] = useState<Record<string, string>>({});
  const [uploads, setUploads] = useState<Upload[]>([]);
  const [query, setQuery] = useState("");
  const [hits, setHits] = useState<SearchHit[] | null>(null);
  const [question, setQuestion] = useState("");
  const [answer, setAnswer] = useState<{ text: string; citations?: Citation[]; rails?: ActivatedRail[]; grounded?: boolean } | null>(null);
  const [busy, setBusy] = useState("");
  const [error, setError] = useState("");
  const [chunk, setChunk] = useState<Citation | null>(null);

  const loadFiles = async () => {
    try {
      const [list, all] = await Promise.all([api<{ data: StoreFile[] }>(`/v1/vector_stores/${storeId}/files?limit=100`), api<{ data: { id: string; filename: string }[] }>("/v1/files").catch(() => ({ data: [] }))]);
      setFiles(list.data);
      setNames((n) => ({ ...n, ...Object.fromEntries(all.data.map((f) => [f.id, f.filename])) }));
    } catch (err) {
      setError(describeError(err));
    }
  };
  useEffect(() => void loadFiles(), [storeId]);

  const patch = (key: string, change: Partial<Upload>) => setUploads((list) => list.map((u) => (u.key === key ? { ...u, ...change } : u)));

  const ingest = async (file: File) => {
    const key = `${file.name}-${Date.now()}-${Math.random()}`;
    setUploads((list) => [...list, { key, name: file.name, progress: 0, status: "uploading" }]);
    try {
      const uploaded = await uploadFile(file, "assistants", (p) => patch(key, { progress: p }));
      setNames((n) => ({ ...n, [uploaded.id]: uploaded.filename }));
      patch(key, { progress: 1, fileId: uploaded.id, status: "in_progress" });
      let status = await api<StoreFile>(`/v1/vector_stores/${storeId}/files`, { body: { file_id: uploaded.id } });
      while (status.status === "in_progress") {
        await sleep(400);
        status = await api<StoreFile>(`/v1/vector_stores/${storeId}/files/${uploaded.id}`);
      }
      patch(key, { status: status.status as Upload["status"], ...(status.last_error?.message ? { error: status.last_error.message } : {}) });
    } catch (err) {
      patch(key, { status: "failed", error: describeError(err) });
    }
    await loadFiles();
    await onChange();
  };

  const pick = (list: FileList | null | undefined) => {
    for (const f of Array.from(list ?? [])) void ingest(f);
  };

  /** Runs one form's request: the buttons are disabled meanwhile, a failure is shown under the panel. */
  const submit = (name: string, text: string, work: () => Promise<void>) => async (e: Event) => {
    e.preventDefault();
    if (!text.trim()) return;
    setBusy(name);
    setError("");
    try {
      await work();
    } catch (err) {
      setError(describeError(err));
    }
    setBusy("");
  };

  const search = submit("search", query, async () => {
    const page = await api<{ data: SearchHit[] }>(`/v1/vector_stores/${storeId}/search`, { body: { query, max_num_results: 10 } });
    setHits(page.data);
  });

  const ask = submit("ask", question, async () => {
    const res = await api<any>("/v1/chat/completions", { body: { messages: [{ role: "user", content: question }], rag: { vector_store_ids: [storeId] }, max_tokens: 256 } });
    const msg = res.choices?.[0]?.message;
    setAnswer({ text: msg?.content ?? "", citations: msg?.citations, rails: res.guardrails_data?.activated_rails, grounded: res.grounded });
  });

  const hitChunk = (h: SearchHit, i: number): Citation => ({
    index: i + 1,
    file_id: h.file_id,
    filename: h.filename ?? names[h.file_id],
    text: h.content.map((c) => c.text).join("\n"),
    page: h.page ?? (h.attributes?.page as number | undefined) ?? null,
    heading_path: h.heading_path ?? null,
    score: h.score,
  });

  return (
    <div class="stack store-panel">
      <section aria-labelledby="upload-title" class="card">
        <h2 id="upload-title">Files</h2>
        <div
          class="dropzone"
          onDragOver={(e) => e.preventDefault()}
          onDrop={(e) => {
            e.preventDefault();
            pick(e.dataTransfer?.files);
          }}
        >
          <label for="upload">Upload files (or drop them here)</label>
          <input id="upload" type="file" multiple onChange={(e) => pick((e.target as HTMLInputElement).files)} />
        </div>
        {uploads.length > 0 && (
          <ul class="uploads" aria-label="Uploads">
            {uploads.map((u) => (
              <li key={u.key} data-testid="upload" data-status={u.status}>
                <span class="name">{u.name}</span>
                <ProgressBar value={u.progress} label={`Upload of ${u.name}`} />
                <span class={`status ${u.status}`}>{u.status === "in_progress" ? "processing" : u.status}</span>
                {u.error && <span class="error"> {u.error}</span>}
              </li>
            ))}
          </ul>
        )}
        <table class="table">
          <caption class="visually-hidden">Files in this store</caption>
          <thead>
            <tr><th scope="col">File</th><th scope="col">Status</th></tr>
          </thead>
          <tbody>
            {files.length === 0 && (
              <tr><td colSpan={2} class="muted">No files yet.</td></tr>
            )}
            {files.map((f) => (
              <tr key={f.id}>
                <td>{names[f.id] ?? f.id}</td>
                <td>{f.status}{f.last_error?.message ? `: ${f.last_error.message}` : ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section aria-labelledby="search-title" class="card">
        <h2 id="search-title">Search</h2>
        <form class="row" onSubmit={search} role="search">
          <label for="search-query" class="visually-hidden">Search query</label>
          <input id="search-query" class="grow" value={query} placeholder="Search the store" onInput={(e) => setQuery((e.target as HTMLInputElement).value)} />
          <button type="submit" disabled={busy !== ""}>Search</button>
        </form>
        {hits && (
          <ol class="hits" data-testid="search-results">
            {hits.length === 0 && <li class="muted">No matching chunks.</li>}
            {hits.map((h, i) => (
              <li key={i}>
                <button class="hit" onClick={() => setChunk(hitChunk(h, i))} data-testid="search-hit">
                  <span class="score">{h.score.toFixed(3)}</span>
                  <span class="name">{h.filename ?? names[h.file_id] ?? h.file_id}</span>
                  <span class="snippet">{h.content.map((c) => c.text).join(" ").slice(0, 200)}</span>
                </button>
              </li>
            ))}
          </ol>
        )}
      </section>

      <section aria-labelledby="ask-title" class="card">
        <h2 id="ask-title">Ask these documents</h2>
        <form class="row" onSubmit={ask}>
          <label for="ask-question" class="visually-hidden">Question</label>
          <input id="ask-question" class="grow" value={question} placeholder="A question answered from the store" onInput={(e) => setQuestion((e.target as HTMLInputElement).value)} />
          <button type="submit" disabled={busy !== ""}>{busy === "ask" ? "Asking…" : "Ask"}</button>
        </form>
        {answer && (
          <div class="message assistant" data-testid="grounded-answer">
            {answer.grounded === false && <p class="muted">Nothing relevant was found: the answer is not grounded.</p>}
            <Markdown text={answer.text} />
            <RailNotice rails={answer.rails} />
            <Citations citations={answer.citations} open={setChunk} />
          </div>
        )}
      </section>
      {error && <p class="error" role="alert">{error}</p>}
      <ChunkDialog chunk={chunk} onClose={() => setChunk(null)} />
    </div>
  );
}
