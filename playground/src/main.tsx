/**
 * The playground's shell: asks the server who the visitor is (GET /v1/whoami: the key's scope, or
 * that a key is needed), shows the tabs that scope allows (ARIA tabs, arrow keys move between them),
 * and keeps the API key in sessionStorage.
 */
import { render } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { api, ApiFailure, describeError, getKey, setKey } from "./api";
import { AccessTab, type Session } from "./tabs/Access";
import { AssistantTab } from "./tabs/Assistant";
import { ChatTab } from "./tabs/Chat";
import { DocumentsTab } from "./tabs/Documents";
import { GuardrailsTab } from "./tabs/Guardrails";
import { MetricsTab } from "./tabs/Metrics";
import { ModelsTab } from "./tabs/Models";
import "./style.css";

interface TabDef {
  id: string;
  label: string;
  admin: boolean;
}

const TABS: TabDef[] = [
  { id: "chat", label: "Chat", admin: false },
  { id: "documents", label: "Documents", admin: false },
  { id: "guardrails", label: "Guardrails", admin: false },
  { id: "models", label: "Models", admin: true },
  { id: "metrics", label: "Metrics", admin: true },
  { id: "assistant", label: "Assistant", admin: true },
  { id: "access", label: "Access", admin: false },
];

function initialTab(): string {
  const hash = location.hash.replace(/^#/, "");
  return TABS.some((t) => t.id === hash) ? hash : "chat";
}

function App() {
  const [session, setSession] = useState<Session>({ state: "checking" });
  const [tab, setTab] = useState(initialTab);
  const tabRefs = useRef<Record<string, HTMLButtonElement | null>>({});

  const check = useCallback(async () => {
    try {
      const who = await api<{ keys_required: boolean; name: string | null; scope: "admin" | "inference" }>("/v1/whoami");
      setSession({ state: "ok", scope: who.scope, name: who.name, keysRequired: who.keys_required });
    } catch (err) {
      if (err instanceof ApiFailure && err.status === 401) {
        const hadKey = getKey() !== "";
        setSession({ state: "needs-key", message: hadKey ? `The server refused this API key: ${err.message}` : "This server requires an API key. Enter one to continue." });
      } else {
        setSession({ state: "error", message: describeError(err) });
      }
    }
  }, []);

  useEffect(() => {
    void check();
  }, [check]);

  const visible = TABS.filter((t) => !t.admin || (session.state === "ok" && session.scope === "admin"));
  const current = visible.some((t) => t.id === tab) ? tab : session.state === "needs-key" ? "access" : "chat";

  useEffect(() => {
    if (location.hash.replace(/^#/, "") !== current) history.replaceState(null, "", `#${current}`);
  }, [current]);

  const onKeyDown = (e: KeyboardEvent) => {
    const i = visible.findIndex((t) => t.id === current);
    let next = -1;
    if (e.key === "ArrowRight") next = (i + 1) % visible.length;
    else if (e.key === "ArrowLeft") next = (i - 1 + visible.length) % visible.length;
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = visible.length - 1;
    if (next < 0) return;
    e.preventDefault();
    const id = visible[next]!.id;
    setTab(id);
    tabRefs.current[id]?.focus();
  };

  const signIn = async (key: string) => {
    setKey(key.trim());
    setSession({ state: "checking" });
    await check();
  };

  return (
    <>
      <header class="top">
        <h1>Nimble playground</h1>
        <nav aria-label="Playground sections">
          <div role="tablist" aria-label="Sections" onKeyDown={onKeyDown}>
            {visible.map((t) => (
              <button
                key={t.id}
                ref={(el) => { tabRefs.current[t.id] = el; }}
                role="tab"
                id={`tab-${t.id}`}
                aria-selected={t.id === current}
                aria-controls={`panel-${t.id}`}
                tabIndex={t.id === current ? 0 : -1}
                onClick={() => setTab(t.id)}
              >
                {t.label}
              </button>
            ))}
          </div>
        </nav>
        <SessionBadge session={session} />
      </header>
      {session.state === "needs-key" && current !== "access" && (
        <div class="banner error" role="alert">
          {session.message} <button class="link" onClick={() => setTab("access")}>Enter a key</button>
        </div>
      )}
      {session.state === "error" && (
        <div class="banner error" role="alert">
          Cannot reach the server: {session.message} <button class="link" onClick={() => void check()}>Retry</button>
        </div>
      )}
      <main>
        {visible.map((t) => (
          <section key={t.id} role="tabpanel" id={`panel-${t.id}`} aria-labelledby={`tab-${t.id}`} hidden={t.id !== current} tabIndex={0}>
            {session.state === "ok" || t.id === "access" ? <TabBody id={t.id} session={session} signIn={signIn} active={t.id === current} /> : <p class="muted">{session.state === "checking" ? "Connecting…" : "Enter an API key in the Access tab."}</p>}
          </section>
        ))}
      </main>
    </>
  );
}

function SessionBadge({ session }: { session: Session }) {
  if (session.state !== "ok") return null;
  const text = session.keysRequired ? `key ${session.name ?? ""} · ${session.scope} scope` : "no API keys on this server";
  return <span class="badge" data-testid="session">{text}</span>;
}

function TabBody({ id, session, signIn, active }: { id: string; session: Session; signIn: (key: string) => Promise<void>; active: boolean }) {
  const admin = session.state === "ok" && session.scope === "admin";
  switch (id) {
    case "chat":
      return <ChatTab active={active} />;
    case "documents":
      return <DocumentsTab />;
    case "guardrails":
      return <GuardrailsTab />;
    case "models":
      return admin ? <ModelsTab /> : null;
    case "metrics":
      return admin ? <MetricsTab active={active} /> : null;
    case "assistant":
      return admin ? <AssistantTab /> : null;
    default:
      return <AccessTab session={session} signIn={signIn} />;
  }
}

render(<App />, document.getElementById("app")!);
