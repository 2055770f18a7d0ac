/** Small pieces the tabs share: a progress bar, a citation dialog, a "not enabled" notice, a markdown block. */
import { useEffect, useRef } from "preact/hooks";
import type { Citation } from "./store";
import { renderMarkdown } from "./markdown";

export function ProgressBar({ value, label, testId }: { value: number; label: string; testId?: string }) {
  const pct = Math.max(0, Math.min(100, Math.round(value * 100)));
  const fill = useRef<HTMLDivElement>(null);
  // Set through the CSSOM: the CSP forbids style attributes in markup, not style properties.
  useEffect(() => {
    if (fill.current) fill.current.style.width = `${pct}%`;
  }, [pct]);
  return (
    <div class="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} data-testid={testId}>
      <div class="progress-track">
        <div class="progress-fill" ref={fill} />
      </div>
      <span class="progress-text">{pct}%</span>
    </div>
  );
}

export function NotEnabled({ what }: { what: string }) {
  return (
    <p class="notice" role="status" data-testid="not-enabled">
      {what} is not enabled on this server.
    </p>
  );
}

export function Markdown({ text }: { text: string }) {
  return <div class="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(text) }} />;
}

export function citationLabel(c: Citation): string {
  return `[${c.index}] ${c.filename ?? c.file_id ?? "document"}${c.page != null ? `, page ${c.page}` : ""}`;
}

/** A modal dialog showing one retrieved chunk: its file, page, heading path, score and text. */
export function ChunkDialog({ chunk, onClose }: { chunk: Citation | null; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (chunk && !d.open) d.showModal();
    if (!chunk && d.open) d.close();
  }, [chunk]);
  return (
    <dialog ref={ref} onClose={onClose} aria-labelledby="chunk-title" data-testid="chunk-dialog">
      {chunk && (
        <div class="stack">
          <h3 id="chunk-title">{chunk.filename ?? chunk.file_id ?? "Document"}</h3>
          <p class="muted">
            {chunk.page != null && <span data-testid="chunk-page">Page {chunk.page} · </span>}
            {chunk.heading_path && chunk.heading_path.length > 0 && <span>{chunk.heading_path.join(" › ")} · </span>}
            {chunk.score !== undefined && <span>score {chunk.score.toFixed(3)}</span>}
          </p>
          <blockquote class="chunk-text">{chunk.text}</blockquote>
          <form method="dialog">
            <button autofocus>Close</button>
          </form>
        </div>
      )}
    </dialog>
  );
}
