/** A one-line progress bar on stderr (redrawn in place on a terminal, a few plain lines otherwise). */

export function formatBytes(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export class ProgressBar {
  private readonly started = Date.now();
  private lastDraw = 0;
  private lastPlainStep = -1;
  private readonly tty: boolean;

  constructor(private readonly label: string, private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.tty = Boolean(stream.isTTY);
  }

  /** `done` and `total` in bytes (or any unit when `bytes` is false). */
  update(done: number, total: number | undefined, bytes = true): void {
    const now = Date.now();
    const fraction = total ? Math.min(1, done / total) : undefined;
    if (!this.tty) {
      const step = fraction === undefined ? -1 : Math.floor(fraction * 4);
      if (step > this.lastPlainStep) {
        this.lastPlainStep = step;
        this.stream.write(`${this.label}: ${Math.round((fraction ?? 0) * 100)}%\n`);
      }
      return;
    }
    if (now - this.lastDraw < 100 && fraction !== 1) return;
    this.lastDraw = now;
    const width = 24;
    const filled = fraction === undefined ? 0 : Math.round(fraction * width);
    const bar = "█".repeat(filled) + "░".repeat(width - filled);
    const seconds = (now - this.started) / 1000;
    let detail = "";
    if (bytes) {
      const rate = seconds > 0 ? done / seconds : 0;
      const eta = total && rate > 0 ? Math.ceil((total - done) / rate) : undefined;
      detail = ` ${formatBytes(done)}${total ? ` / ${formatBytes(total)}` : ""}  ${formatBytes(rate)}/s${eta !== undefined ? `  ETA ${eta}s` : ""}`;
    }
    const pct = fraction === undefined ? "" : ` ${String(Math.round(fraction * 100)).padStart(3)}%`;
    this.stream.write(`\r${this.label} ${bar}${pct}${detail}\x1b[K`);
  }

  finish(): void {
    if (this.tty) this.stream.write("\n");
  }
}
