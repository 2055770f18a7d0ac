/**
 * Chat: streamed chat completions with a stop button, markdown answers, TTFT and tokens/s under
 * each answer, system prompt and sampling parameters (empty = the server's default), model picker
 * (chat models and LoRA adapters from /v1/models with their state), JSON mode and schema, grounding
 * in vector stores (the `rag` field; citations open the chunk), a guardrail configuration (notices
 * when a rail masked or blocked), and conversations kept in localStorage with export/import,
 * edit and regenerate.
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, describeError, streamEvents } from "../api";
import { ChunkDialog, citationLabel, Markdown } from "../components";
import {
  DEFAULT_SETTINGS, exportConversations, loadConversations, newConversation, parseImport, saveConversations,
  type ActivatedRail, type ChatMessage, type ChatSettings, type Citation, type Conversation,
} from "../store";

interface ModelCard {
  id: string;
  parent?: string | null;
  nimble?: { kind?: string; state?: string };
}

export interface ModelOption {
  id: string;
  label: string;
}

/** Chat models and LoRA adapters of /v1/models, labelled with their state. */
export async function chatModels(): Promise<ModelOption[]> {
  const list = await api<{ data: ModelCard[] }>("/v1/models");
  return list.data
    .filter((m) => m.nimble?.kind === "chat" || m.nimble?.kind === "lora" || m.nimble?.kind === undefined)
    .map((m) => ({ id: m.id, label: m.nimble?.kind === "lora" ? `${m.id} (LoRA adapter of ${m.parent})` : `${m.id}${m.nimble?.state ? ` (${m.nimble.state})` : ""}` }));
}

/** The rails that changed something (masked or blocked), for the notice under an answer. */
export function railNotices(rails: ActivatedRail[] | undefined): string[] {
  return (rails ?? [])
    .filter((r) => r.action === "block" || r.action === "mask")
    .map((r) => `Guardrail “${r.name}” (${r.type} rail) ${r.action === "block" ? "blocked" : "masked"} ${r.type === "output" ? "part of the answer" : r.type === "retrieval" ? "retrieved text" : "this request"}.`);
}

export function RailNotice({ rails }: { rails: ActivatedRail[] | undefined }) {
  const notes = railNotices(rails);
  if (notes.length === 0) return null;
  return (
    <div class="notice warn" role="status" data-testid="guardrail-notice">
      {notes.map((n) => (
        <div key={n}>{n}</div>
      ))}
    </div>
  );
}

export function Citations({ citations, open }: { citations: Citation[] | undefined; open: (c: Citation) => void }) {
  if (!citations || citations.length === 0) return null;
  return (
    <div class="citations" aria-label="Sources">
      {citations.map((c) => (
        <button key={c.index} class="chip" onClick={() => open(c)} data-testid="citation">
          {citationLabel(c)}
        </button>
      ))}
    </div>
  );
}

function numberOrUndefined(text: string): number | undefined {
  if (text.trim() === "") return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** The request body for a conversation's messages under its settings; throws on an invalid schema. */
export function requestBody(settings: ChatSettings, messages: ChatMessage[]): Record<string, unknown> {
  const body: Record<string, unknown> = {
    messages: [...(settings.system.trim() ? [{ role: "system", content: settings.system }] : []), ...messages.map((m) => ({ role: m.role, content: m.content }))],
    stream: true,
    stream_options: { include_usage: true },
  };
  if (settings.model) body.model = settings.model;
  const fields: [string, string][] = [["temperature", settings.temperature], ["top_p", settings.topP], ["max_tokens", settings.maxTokens], ["seed", settings.seed]];
  for (const [name, text] of fields) {
    const n = numberOrUndefined(text);
    if (n !== undefined) body[name] = n;
  }
  if (settings.jsonMode) {
    if (settings.schema.trim()) {
      let schema: unknown;
      try {
        schema = JSON.parse(settings.schema);
      } catch {
        throw new Error("The JSON schema is not valid JSON.");
      }
      body.response_format = { type: "json_schema", json_schema: { name: "playground", schema } };
    } else {
      body.response_format = { type: "json_object" };
    }
  }
  if (settings.storeIds.length > 0) body.rag = { vector_store_ids: settings.storeIds };
  if (settings.guardrailConfig) body.guardrails = { config_id: settings.guardrailConfig };
  return body;
}

export function ChatTab({ active }: { active: boolean }) {
  const [conversations, setConversations] = useState<Conversation[]>(() => {
    const saved = loadConversations();
    return saved.length > 0 ? saved : [newConversation()];
  });
  const [currentId, setCurrentId] = useState(conversations[0]!.id);
  const [models, setModels] = useState<ModelOption[]>([]);
  const [stores, setStores] = useState<{ id: string; name: string }[] | null>(null);
  const [configs, setConfigs] = useState<string[] | null>(null);
  const [draft, setDraft] = useState("");
  const [streaming, setStreaming] = useState(false);
  const [notice, setNotice] = useState("");
  const [editing, setEditing] = useState<{ index: number; text: string } | null>(null);
  const [chunk, setChunk] = useState<Citation | null>(null);
  const controller = useRef<AbortController | null>(null);
  const listEnd = useRef<HTMLDivElement>(null);

  const current = conversations.find((c) => c.id === currentId) ?? conversations[0]!;

  useEffect(() => saveConversations(conversations), [conversations]);
  useEffect(() => listEnd.current?.scrollIntoView?.({ block: "end" }), [current.messages]);
  // The lists are read again each time the tab is shown (stores created, adapters added meanwhile).
  useEffect(() => {
    if (!active) return;
    chatModels().then(setModels, (err) => setNotice(`Models: ${describeError(err)}`));
    api<{ data: { id: string; name: string | null }[] }>("/v1/vector_stores").then(
      (r) => setStores(r.data.map((s) => ({ id: s.id, name: s.name ?? s.id }))),
      () => setStores(null),
    );
    api<{ data: { id: string }[] }>("/v1/guardrail/configs").then((r) => setConfigs(r.data.map((c) => c.id)), () => setConfigs(null));
  }, [active]);

  const update = (id: string, change: (c: Conversation) => Conversation) => setConversations((list) => list.map((c) => (c.id === id ? change(c) : c)));
  const setSettings = (patch: Partial<ChatSettings>) => update(current.id, (c) => ({ ...c, settings: { ...c.settings, ...patch } }));

  async function run(history: ChatMessage[]) {
    const id = current.id;
    const settings = current.settings;
    let body: Record<string, unknown>;
    try {
      body = requestBody(settings, history);
    } catch (err) {
      setNotice((err as Error).message);
      return;
    }
    setNotice("");
    const answer: ChatMessage = { role: "assistant", content: "" };
    const title = current.messages.length === 0 && history[0] ? history[0].content.slice(0, 48) : current.title;
    const put = () => update(id, (c) => ({ ...c, title, updated: Date.now(), messages: [...history, { ...answer }] }));
    put();
    const abort = new AbortController();
    controller.current = abort;
    setStreaming(true);
    const start = performance.now();
    let first: number | undefined;
    let chunks = 0;
    let completionTokens: number | undefined;
    try {
      for await (const event of streamEvents("/v1/chat/completions", body, abort.signal)) {
        if (event.error) {
          answer.error = event.error.message ?? "The server ended the stream with an error.";
          break;
        }
        if (event.guardrails_data?.activated_rails) answer.rails = [...(answer.rails ?? []), ...event.guardrails_data.activated_rails];
        const choice = event.choices?.[0];
        if (choice?.delta?.citations) answer.citations = choice.delta.citations;
        if (typeof choice?.delta?.content === "string" && choice.delta.content.length > 0) {
          first ??= performance.now();
          chunks++;
          answer.content += choice.delta.content;
        }
        if (choice?.finish_reason) answer.stats = { ...answer.stats, finishReason: choice.finish_reason };
        if (event.usage) completionTokens = event.usage.completion_tokens;
        put();
      }
    } catch (err) {
      if (abort.signal.aborted) answer.stats = { ...answer.stats, finishReason: "stopped" };
      else answer.error = describeError(err);
    }
    const end = performance.now();
    const tokens = completionTokens ?? chunks;
    answer.stats = {
      ...answer.stats,
      ...(first !== undefined ? { ttftMs: first - start } : {}),
      ...(first !== undefined && end > first && tokens > 1 ? { tokensPerSecond: (tokens - 1) / ((end - first) / 1000) } : {}),
      completionTokens: tokens,
    };
    put();
    controller.current = null;
    setStreaming(false);
  }

  const send = (e: Event) => {
    e.preventDefault();
    if (streaming || draft.trim() === "") return;
    const history = [...current.messages.filter((m) => !(m.role === "assistant" && m.error && !m.content)), { role: "user" as const, content: draft }];
    setDraft("");
    void run(history);
  };

  const regenerate = () => {
    const last = current.messages.length - 1;
    if (streaming || last < 0) return;
    void run(current.messages[last]!.role === "assistant" ? current.messages.slice(0, last) : current.messages);
  };

  const saveEdit = () => {
    if (!editing || streaming) return;
    const history = [...current.messages.slice(0, editing.index), { role: "user" as const, content: editing.text }];
    setEditing(null);
    void run(history);
  };

  const newChat = () => {
    const c = newConversation({ ...current.settings });
    setConversations((list) => [c, ...list]);
    setCurrentId(c.id);
  };

  const remove = () => {
    const rest = conversations.filter((c) => c.id !== current.id);
    const next = rest.length > 0 ? rest : [newConversation({ ...DEFAULT_SETTINGS, model: current.settings.model })];
    setConversations(next);
    setCurrentId(next[0]!.id);
  };

  const exportUrl = useMemo(() => URL.createObjectURL(exportConversations(conversations)), [conversations]);
  useEffect(() => () => URL.revokeObjectURL(exportUrl), [exportUrl]);

  const importFile = async (e: Event) => {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    input.value = "";
    if (!file) return;
    try {
      const imported = parseImport(await file.text());
      const known = new Set(conversations.map((c) => c.id));
      setConversations((list) => [...imported.filter((c) => !known.has(c.id)), ...list]);
      setCurrentId(imported[0]!.id);
      setNotice(`Imported ${imported.length} conversation${imported.length === 1 ? "" : "s"}.`);
    } catch (err) {
      setNotice(`Import failed: ${(err as Error).message}`);
    }
  };

  const s = current.settings;
  const field = (id: string, label: string, value: string, key: keyof ChatSettings, placeholder: string, extra: Record<string, string> = {}) => (
    <div class="field">
      <label for={id}>{label}</label>
      <input id={id} type="number" inputMode="decimal" value={value} placeholder={placeholder} onInput={(e) => setSettings({ [key]: (e.target as HTMLInputElement).value })} {...extra} />
    </div>
  );

  return (
    <div class="chat-layout">
      <aside class="sidebar" aria-label="Conversations">
        <div class="row">
          <button onClick={newChat}>New chat</button>
          <button onClick={remove} aria-label="Delete this conversation">Delete</button>
        </div>
        <ul class="conversation-list">
          {conversations.map((c) => (
            <li key={c.id}>
              <button class={c.id === current.id ? "conv active" : "conv"} aria-current={c.id === current.id ? "true" : undefined} onClick={() => setCurrentId(c.id)}>
                {c.title}
              </button>
            </li>
          ))}
        </ul>
        <div class="row">
          <a class="button" href={exportUrl} download="nimble-conversations.json">Export</a>
          <label class="button file-button">
            Import
            <input type="file" accept="application/json,.json" class="visually-hidden" onChange={importFile} />
          </label>
        </div>
      </aside>

      <div class="conversation">
        <div class="messages" aria-live="polite" aria-busy={streaming} data-testid="messages">
          {current.messages.length === 0 && <p class="muted">Send a message to start. Answers stream in as they are generated.</p>}
          {current.messages.map((m, i) => (
            <article key={i} class={`message ${m.role}`} aria-label={m.role === "user" ? "You" : "Assistant"} data-testid={`message-${m.role}`}>
              <div class="who">{m.role === "user" ? "You" : "Assistant"}</div>
              {editing?.index === i ? (
                <div class="stack">
                  <label for={`edit-${i}`} class="visually-hidden">Edit message</label>
                  <textarea id={`edit-${i}`} value={editing.text} onInput={(e) => setEditing({ index: i, text: (e.target as HTMLTextAreaElement).value })} rows={3} />
                  <div class="row">
                    <button onClick={saveEdit}>Save and send</button>
                    <button onClick={() => setEditing(null)}>Cancel</button>
                  </div>
                </div>
              ) : m.role === "user" ? (
                <div class="plain">{m.content}</div>
              ) : (
                <Markdown text={m.content} />
              )}
              <RailNotice rails={m.rails} />
              <Citations citations={m.citations} open={setChunk} />
              {m.error && <p class="error" role="alert">{m.error}</p>}
              {m.role === "assistant" && m.stats && (
                <p class="stats" data-testid="stats">
                  {m.stats.ttftMs !== undefined && `TTFT ${Math.round(m.stats.ttftMs)} ms · `}
                  {m.stats.tokensPerSecond !== undefined && `${m.stats.tokensPerSecond.toFixed(1)} tokens/s · `}
                  {`${m.stats.completionTokens ?? 0} tokens`}
                  {m.stats.finishReason && ` · ${m.stats.finishReason}`}
                </p>
              )}
              <div class="row actions">
                {m.role === "user" && !streaming && (
                  <button class="small" onClick={() => setEditing({ index: i, text: m.content })}>Edit</button>
                )}
                {m.role === "assistant" && i === current.messages.length - 1 && !streaming && (
                  <button class="small" onClick={regenerate}>Regenerate</button>
                )}
              </div>
            </article>
          ))}
          <div ref={listEnd} />
        </div>
        {notice && <p class="notice" role="status">{notice}</p>}
        <form class="composer" onSubmit={send}>
          <label for="prompt" class="visually-hidden">Message</label>
          <textarea
            id="prompt"
            rows={3}
            value={draft}
            placeholder="Message (Enter to send, Shift+Enter for a new line)"
            onInput={(e) => setDraft((e.target as HTMLTextAreaElement).value)}
            onKeyDown={(e) => {
              if (e.key === "Enter" && !e.shiftKey) send(e);
            }}
          />
          {streaming ? (
            <button type="button" class="danger" onClick={() => controller.current?.abort()}>Stop</button>
          ) : (
            <button type="submit" disabled={draft.trim() === ""}>Send</button>
          )}
        </form>
      </div>

      <aside class="settings" aria-label="Chat settings">
        <div class="field">
          <label for="model">Model</label>
          <select id="model" value={s.model} onChange={(e) => setSettings({ model: (e.target as HTMLSelectElement).value })}>
            <option value="">Server default</option>
            {models.map((m) => (
              <option key={m.id} value={m.id}>{m.label}</option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="system">System prompt</label>
          <textarea id="system" rows={3} value={s.system} onInput={(e) => setSettings({ system: (e.target as HTMLTextAreaElement).value })} />
        </div>
        <div class="grid2">
          {field("temperature", "Temperature", s.temperature, "temperature", "1 (default)", { min: "0", max: "2", step: "0.1" })}
          {field("top-p", "Top p", s.topP, "topP", "1 (default)", { min: "0", max: "1", step: "0.05" })}
          {field("max-tokens", "Max tokens", s.maxTokens, "maxTokens", "server limit", { min: "1", step: "1" })}
          {field("seed", "Seed", s.seed, "seed", "random", { step: "1" })}
        </div>
        <div class="field check">
          <input id="json-mode" type="checkbox" checked={s.jsonMode} onChange={(e) => setSettings({ jsonMode: (e.target as HTMLInputElement).checked })} />
          <label for="json-mode">JSON mode</label>
        </div>
        {s.jsonMode && (
          <div class="field">
            <label for="schema">JSON schema (optional)</label>
            <textarea id="schema" rows={4} class="mono" value={s.schema} placeholder='{"type":"object","properties":{…}}' onInput={(e) => setSettings({ schema: (e.target as HTMLTextAreaElement).value })} />
          </div>
        )}
        <fieldset>
          <legend>Ground in documents</legend>
          {stores === null ? (
            <p class="muted">Documents are not enabled on this server.</p>
          ) : stores.length === 0 ? (
            <p class="muted">No vector stores yet (Documents tab).</p>
          ) : (
            stores.map((st) => (
              <div class="field check" key={st.id}>
                <input
                  id={`ground-${st.id}`}
                  type="checkbox"
                  checked={s.storeIds.includes(st.id)}
                  onChange={(e) => setSettings({ storeIds: (e.target as HTMLInputElement).checked ? [...s.storeIds, st.id] : s.storeIds.filter((x) => x !== st.id) })}
                />
                <label for={`ground-${st.id}`}>{st.name}</label>
              </div>
            ))
          )}
        </fieldset>
        {configs === null ? (
          <p class="muted">Guardrails are not enabled on this server.</p>
        ) : (
          <div class="field">
            <label for="guardrail-config">Guardrail configuration</label>
            <select id="guardrail-config" value={s.guardrailConfig} onChange={(e) => setSettings({ guardrailConfig: (e.target as HTMLSelectElement).value })}>
              <option value="">Server default</option>
              {configs.map((c) => (
                <option key={c} value={c}>{c}</option>
              ))}
            </select>
          </div>
        )}
      </aside>
      <ChunkDialog chunk={chunk} onClose={() => setChunk(null)} />
    </div>
  );
}
