/**
 * Guardrails: the loaded configurations (GET /v1/guardrail/configs) and a "try it" box that runs
 * POST /v1/guardrail/checks on a message and shows each rail's verdict and latency, and the
 * message as the rails left it (masked).
 */
import { useEffect, useState } from "preact/hooks";
import { api, ApiFailure, describeError } from "../api";
import { NotEnabled } from "../components";

interface Config {
  id: string;
  default: boolean;
  rails: { name: string; type: string; action: string }[];
}

interface CheckResult {
  status: "success" | "blocked";
  rails_status: Record<string, { status: string; type: string; latency_ms: number; detail?: unknown }>;
  messages: { role: string; content: string }[];
}

export function GuardrailsTab() {
  const [configs, setConfigs] = useState<Config[] | null | undefined>(undefined);
  const [configId, setConfigId] = useState("");
  const [text, setText] = useState("");
  const [role, setRole] = useState("user");
  const [result, setResult] = useState<CheckResult | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api<{ data: Config[] }>("/v1/guardrail/configs").then(
      (r) => {
        setConfigs(r.data);
        setConfigId(r.data.find((c) => c.default)?.id ?? r.data[0]?.id ?? "");
      },
      (err) => (err instanceof ApiFailure && err.notEnabled ? setConfigs(null) : setError(describeError(err))),
    );
  }, []);

  const run = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    try {
      setResult(await api<CheckResult>("/v1/guardrail/checks", { body: { messages: [{ role, content: text }], ...(configId ? { guardrails: { config_id: configId } } : {}) } }));
    } catch (err) {
      setResult(null);
      setError(describeError(err));
    }
    setBusy(false);
  };

  if (configs === null) return <NotEnabled what="Guardrails" />;
  return (
    <div class="two-columns">
      <section aria-labelledby="configs-title" class="card">
        <h2 id="configs-title">Configurations</h2>
        {configs === undefined && !error && <p class="muted">Loading…</p>}
        {configs?.length === 0 && <p class="muted">No guardrail configuration is loaded.</p>}
        {configs?.map((c) => (
          <div key={c.id} class="stack config" data-testid="guardrail-config">
            <h3>
              {c.id} {c.default && <span class="badge">default</span>}
            </h3>
            <table class="table">
              <caption class="visually-hidden">Rails of {c.id}</caption>
              <thead>
                <tr><th scope="col">Rail</th><th scope="col">Type</th><th scope="col">Action</th></tr>
              </thead>
              <tbody>
                {c.rails.map((r) => (
                  <tr key={r.name}><td>{r.name}</td><td>{r.type}</td><td>{r.action}</td></tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
      </section>
      <section aria-labelledby="try-title" class="card">
        <h2 id="try-title">Try it</h2>
        <form class="stack" onSubmit={run}>
          <div class="grid2">
            <div class="field">
              <label for="check-config">Configuration</label>
              <select id="check-config" value={configId} onChange={(e) => setConfigId((e.target as HTMLSelectElement).value)}>
                {(configs ?? []).map((c) => (
                  <option key={c.id} value={c.id}>{c.id}</option>
                ))}
              </select>
            </div>
            <div class="field">
              <label for="check-role">Role</label>
              <select id="check-role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)}>
                <option value="user">user (input rails)</option>
                <option value="assistant">assistant (output rails)</option>
              </select>
            </div>
          </div>
          <label for="check-text">Message to check</label>
          <textarea id="check-text" rows={4} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
          <button type="submit" disabled={busy || text.trim() === ""}>{busy ? "Checking…" : "Check"}</button>
        </form>
        {error && <p class="error" role="alert">{error}</p>}
        {result && (
          <div class="stack" data-testid="check-result">
            <p role="status" class={result.status === "blocked" ? "notice warn" : "notice"}>
              Verdict: <strong>{result.status}</strong>
            </p>
            <table class="table">
              <caption class="visually-hidden">Rail verdicts</caption>
              <thead>
                <tr><th scope="col">Rail</th><th scope="col">Type</th><th scope="col">Verdict</th><th scope="col">Latency</th><th scope="col">Detail</th></tr>
              </thead>
              <tbody>
                {Object.entries(result.rails_status).map(([name, r]) => (
                  <tr key={name} data-testid="rail-row">
                    <td>{name}</td><td>{r.type}</td><td class={`verdict ${r.status}`}>{r.status}</td><td>{r.latency_ms.toFixed(1)} ms</td>
                    <td>{r.detail === undefined ? "" : typeof r.detail === "string" ? r.detail : JSON.stringify(r.detail)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {result.messages.length > 0 && (
              <div>
                <h3>After the rails</h3>
                <pre class="wrap">{result.messages.map((m) => m.content).join("\n")}</pre>
              </div>
            )}
          </div>
        )}
      </section>
    </div>
  );
}
