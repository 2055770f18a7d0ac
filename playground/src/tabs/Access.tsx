/** Access: the API key (kept in sessionStorage for this tab only), its scope, and what it allows. */
import { useState } from "preact/hooks";
import { getKey } from "../api";

export type Session =
  | { state: "checking" }
  | { state: "ok"; scope: "admin" | "inference"; name: string | null; keysRequired: boolean }
  | { state: "needs-key"; message: string }
  | { state: "error"; message: string };

export function AccessTab({ session, signIn }: { session: Session; signIn: (key: string) => Promise<void> }) {
  const [key, setKeyText] = useState(getKey());
  const submit = (e: Event) => {
    e.preventDefault();
    void signIn(key);
  };
  return (
    <div class="stack narrow">
      <h2>Access</h2>
      {session.state === "ok" && !session.keysRequired && <p data-testid="access-status">This server has no API keys: every route, admin ones included, is open to whoever reaches it.</p>}
      {session.state === "ok" && session.keysRequired && (
        <p data-testid="access-status">
          Signed in with key <strong>{session.name}</strong>, which has the <strong>{session.scope}</strong> scope.
          {session.scope !== "admin" && " The Models and Metrics tabs need an admin key and are hidden."}
        </p>
      )}
      {session.state === "needs-key" && (
        <p class="error" role="alert" data-testid="key-error">
          {session.message}
        </p>
      )}
      <form onSubmit={submit} class="stack">
        <label for="api-key">API key</label>
        <input id="api-key" type="password" autocomplete="off" spellcheck={false} value={key} onInput={(e) => setKeyText((e.target as HTMLInputElement).value)} placeholder="nmb-…" />
        <div class="row">
          <button type="submit">Use this key</button>
          <button type="button" onClick={() => { setKeyText(""); void signIn(""); }}>Forget the key</button>
        </div>
      </form>
      <p class="muted">The key stays in this browser tab's session storage and is sent as <code>Authorization: Bearer</code> to this server only. Closing the tab forgets it.</p>
    </div>
  );
}
