/**
 * Models (admin scope): configured models with state and memory (GET /v1/admin/models), load and
 * unload, pull into the store with a live progress bar (POST /v1/admin/pull's SSE), and the serving
 * profile the server chose with the alternatives and why (GET /v1/metadata's `profile`).
 */
import { useEffect, useState } from "preact/hooks";
import { api, describeError, streamEvents } from "../api";
import { ProgressBar } from "../components";

interface AdminModel {
  id: string;
  aliases: string[];
  kind: string;
  source: string;
  state: string;
  memory_bytes: number;
  requests: number;
  last_used: string | null;
  error?: string;
}

interface Profile {
  name: string;
  gpuLayers: number;
  contextSize: number;
  parallel: number;
  kvCacheType: string;
  ramBytes: number;
  vramBytes: number;
  fits: boolean;
  reason: string;
}

export const formatBytes = (n: number) => (n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(2)} GB` : n >= 1024 ** 2 ? `${(n / 1024 ** 2).toFixed(1)} MB` : `${(n / 1024).toFixed(0)} KB`);

export function ModelsTab() {
  const [models, setModels] = useState<AdminModel[]>([]);
  const [budget, setBudget] = useState(0);
  const [profile, setProfile] = useState<{ chosen: string | null; profiles: Profile[] } | null | undefined>(undefined);
  const [busy, setBusy] = useState<string>("");
  const [error, setError] = useState("");
  const [ref, setRef] = useState("");
  const [pull, setPull] = useState<{ status: string; progress: number; file?: string; message?: string } | null>(null);

  const refresh = async () => {
    try {
      const list = await api<{ budget_bytes: number; data: AdminModel[] }>("/v1/admin/models");
      setModels(list.data);
      setBudget(list.budget_bytes);
    } catch (err) {
      setError(describeError(err));
    }
  };
  useEffect(() => {
    void refresh();
    api<{ profile?: { chosen: string | null; profiles: Profile[] } }>("/v1/metadata").then((m) => setProfile(m.profile ?? null), () => setProfile(null));
  }, []);

  const act = async (id: string, action: "load" | "unload") => {
    setBusy(`${action}:${id}`);
    setError("");
    try {
      await api(`/v1/admin/models/${encodeURIComponent(id)}/${action}`, { method: "POST", body: {} });
    } catch (err) {
      setError(describeError(err));
    }
    setBusy("");
    await refresh();
  };

  const startPull = async (e: Event) => {
    e.preventDefault();
    if (!ref.trim()) return;
    setPull({ status: "pulling", progress: 0 });
    try {
      for await (const ev of streamEvents("/v1/admin/pull", { model: ref.trim() })) {
        if (ev.error) {
          setPull((p) => ({ ...p!, status: "error", message: ev.error.message }));
          break;
        }
        if (ev.status === "downloading") setPull({ status: "downloading", file: ev.file, progress: ev.total ? ev.completed / ev.total : 0 });
        else if (ev.status === "notice") setPull((p) => ({ ...p!, message: ev.message }));
        else if (ev.status === "success") setPull({ status: "success", progress: 1, message: `Pulled ${ev.name}${ev.downloaded ? "" : " (already in the store)"}.` });
      }
    } catch (err) {
      setPull((p) => ({ ...(p ?? { progress: 0 }), status: "error", message: describeError(err) }));
    }
    await refresh();
  };

  const used = models.reduce((sum, m) => sum + (m.state === "loaded" ? m.memory_bytes : 0), 0);
  return (
    <div class="stack">
      <section aria-labelledby="models-title" class="card">
        <h2 id="models-title">Models</h2>
        <p class="muted">Loaded models use {formatBytes(used)} of the {formatBytes(budget)} memory budget.</p>
        <table class="table" data-testid="models-table">
          <caption class="visually-hidden">Configured models</caption>
          <thead>
            <tr><th scope="col">Model</th><th scope="col">Kind</th><th scope="col">State</th><th scope="col">Memory</th><th scope="col">Requests</th><th scope="col">Actions</th></tr>
          </thead>
          <tbody>
            {models.map((m) => (
              <tr key={m.id}>
                <td>
                  {m.id}
                  {m.aliases.length > 0 && <span class="muted"> ({m.aliases.join(", ")})</span>}
                  <div class="muted small-text">{m.source}</div>
                </td>
                <td>{m.kind}</td>
                <td>{m.state}{m.error ? `: ${m.error}` : ""}</td>
                <td>{m.state === "loaded" ? formatBytes(m.memory_bytes) : `~${formatBytes(m.memory_bytes)}`}</td>
                <td>{m.requests}</td>
                <td class="row">
                  <button class="small" disabled={busy !== "" || m.state === "loaded"} onClick={() => act(m.id, "load")} aria-label={`Load ${m.id}`}>Load</button>
                  <button class="small" disabled={busy !== "" || m.state !== "loaded"} onClick={() => act(m.id, "unload")} aria-label={`Unload ${m.id}`}>Unload</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {error && <p class="error" role="alert">{error}</p>}
      </section>

      <section aria-labelledby="pull-title" class="card">
        <h2 id="pull-title">Pull a model</h2>
        <form class="row" onSubmit={startPull}>
          <label for="pull-ref" class="visually-hidden">Model reference</label>
          <input id="pull-ref" class="grow" value={ref} placeholder="hf:owner/repo/file.gguf, hf:owner/repo:Q4_K_M or https://…/model.gguf" onInput={(e) => setRef((e.target as HTMLInputElement).value)} />
          <button type="submit" disabled={!ref.trim() || pull?.status === "downloading" || pull?.status === "pulling"}>Pull</button>
        </form>
        {pull && (
          <div class="stack" data-testid="pull-status">
            <ProgressBar value={pull.progress} label="Pull progress" testId="pull-progress" />
            <p role="status">
              {pull.status}
              {pull.file ? ` ${pull.file}` : ""}
              {pull.message ? `: ${pull.message}` : ""}
            </p>
          </div>
        )}
      </section>

      <section aria-labelledby="profile-title" class="card">
        <h2 id="profile-title">Serving profile</h2>
        {profile === undefined && <p class="muted">Loading…</p>}
        {profile === null && <p class="muted">This server was not started by <code>nimble serve</code> with a single model, so it chose no profile (<code>nimble profiles MODEL</code> lists them).</p>}
        {profile && (
          <table class="table" data-testid="profiles">
            <caption class="visually-hidden">Serving profiles</caption>
            <thead>
              <tr><th scope="col">Profile</th><th scope="col">GPU layers</th><th scope="col">Sequences × context</th><th scope="col">KV cache</th><th scope="col">Memory</th><th scope="col">Why</th></tr>
            </thead>
            <tbody>
              {profile.profiles.map((p) => (
                <tr key={p.name} class={p.name === profile.chosen ? "chosen" : ""}>
                  <td>{p.name}{p.name === profile.chosen && <strong> (chosen)</strong>}</td>
                  <td>{p.gpuLayers}</td>
                  <td>{p.parallel} × {p.contextSize}</td>
                  <td>{p.kvCacheType}</td>
                  <td>{formatBytes(p.ramBytes)} RAM{p.vramBytes > 0 ? `, ${formatBytes(p.vramBytes)} VRAM` : ""}</td>
                  <td>{p.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
