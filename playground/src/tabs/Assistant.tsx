/**
 * Assistant (admin keys only): the setup assistant of `nimble assistant` as a conversation. Each
 * message goes to POST /v1/admin/assistant/conversations(/{id}/messages); the server runs the agent
 * until it needs the user again and returns what was said and, for a change, the plan waiting for a
 * decision. The plan is shown with Confirm / Decline: nothing changes until Confirm.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { api, describeError } from "../api";

interface Turn {
  id: string;
  events: { type: "say"; text: string }[];
  pending: { type: "message" } | { type: "confirm"; plan_id: string; plan: string } | null;
  done: boolean;
  error?: string;
}

interface Driver {
  available: boolean;
  model?: string;
  reason?: string;
}

type Line = { who: "you" | "assistant" | "tool" | "note"; text: string };

/** A said line, by who said it. */
function toLine(text: string): Line {
  if (text.startsWith("You: ")) return { who: "you", text: text.slice(5) };
  if (text.startsWith("Assistant: ")) return { who: "assistant", text: text.slice(11) };
  if (text.startsWith("[tool call] ")) return { who: "tool", text: text.slice(12) };
  return { who: "note", text };
}

const WHO = { you: "You", assistant: "Assistant", tool: "Tool call", note: "Nimble" };

export function AssistantTab() {
  const [driver, setDriver] = useState<Driver | null>(null);
  const [lines, setLines] = useState<Line[]>([]);
  const [turn, setTurn] = useState<Turn | null>(null);
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  const end = useRef<HTMLDivElement>(null);

  useEffect(() => {
    api<Driver>("/v1/admin/assistant").then(setDriver, (err) => setError(describeError(err)));
  }, []);
  useEffect(() => end.current?.scrollIntoView?.({ block: "nearest" }), [lines, turn]);

  const step = async (path: string, body: unknown, echo?: string) => {
    setBusy(true);
    setError("");
    if (echo !== undefined) setLines((l) => [...l, { who: "you", text: echo }]);
    try {
      const next = await api<Turn>(path, { body });
      // The first message comes back as "You: …": it is on screen already.
      setLines((l) => [...l, ...next.events.map((e) => toLine(e.text)).filter((x, i) => !(echo !== undefined && i === 0 && x.who === "you"))]);
      setTurn(next);
      if (next.error) setError(next.error);
    } catch (err) {
      setError(describeError(err));
    }
    setBusy(false);
  };

  const send = (e: Event) => {
    e.preventDefault();
    const message = text.trim();
    if (!message) return;
    setText("");
    const open = turn && !turn.done;
    void step(open ? `/v1/admin/assistant/conversations/${turn.id}/messages` : "/v1/admin/assistant/conversations", { message }, message);
  };

  const decide = (decision: "confirm" | "decline") => {
    if (turn?.pending?.type !== "confirm") return;
    void step(`/v1/admin/assistant/conversations/${turn.id}/plans/${turn.pending.plan_id}/${decision}`, {});
  };

  const restart = () => {
    setTurn(null);
    setLines([]);
    setError("");
  };

  const plan = turn?.pending?.type === "confirm" ? turn.pending : null;
  return (
    <div class="stack assistant">
      <p class="muted" data-testid="assistant-driver">
        {driver === null ? "Checking which model drives the assistant…" : driver.available ? `Driven by ${driver.model}. Every change is shown as a plan and waits for your Confirm.` : `No capable assistant model: ${driver.reason}. Start the server with --assistant-url and --assistant-model, or run \`nimble assistant --wizard\`.`}
      </p>
      <div class="messages" aria-live="polite" aria-busy={busy} data-testid="assistant-messages">
        {lines.length === 0 && <p class="muted">Say what you want to set up, e.g. “a support assistant over our manuals, with a key for our web app”.</p>}
        {lines.map((l, i) => (
          <div key={i} class={`message ${l.who === "you" ? "user" : ""}`} data-testid={`assistant-line-${l.who}`}>
            <div class="who">{WHO[l.who]}</div>
            {l.who === "tool" ? <code class="wrap">{l.text}</code> : <div class="plain">{l.text}</div>}
          </div>
        ))}
        {plan && (
          <div class="card plan" role="group" aria-labelledby="plan-title" data-testid="assistant-plan">
            <h3 id="plan-title">Plan</h3>
            <p>{plan.plan}</p>
            <div class="row">
              <button type="button" onClick={() => decide("confirm")} disabled={busy}>Confirm</button>
              <button type="button" class="secondary" onClick={() => decide("decline")} disabled={busy}>Decline</button>
            </div>
          </div>
        )}
        <div ref={end} />
      </div>
      {busy && <p class="muted" role="status">Working…</p>}
      {error && <p class="error" role="alert">{error}</p>}
      {turn?.done && (
        <p class="notice" role="status">
          The conversation ended. <button class="link" onClick={restart}>Start a new one</button>
        </p>
      )}
      <form class="stack" onSubmit={send}>
        <label for="assistant-input">Message to the assistant</label>
        <textarea id="assistant-input" rows={3} value={text} disabled={plan !== null} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} />
        <div class="row">
          <button type="submit" disabled={busy || plan !== null || text.trim() === "" || driver?.available === false}>Send</button>
          {plan && <span class="muted">Confirm or decline the plan first.</span>}
        </div>
      </form>
    </div>
  );
}
