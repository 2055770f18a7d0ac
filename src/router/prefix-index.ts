/**
 * An approximate index of what each upstream holds in its prompt cache, in the way of llm-d's
 * prefix-cache scorer and the production-stack router's prefix-aware routing: a prompt's text is cut
 * into blocks of `blockChars` characters, each block hashed together with the hash of all before it
 * (so a block hash stands for the whole prefix up to it), and the hashes of every prompt routed to an
 * upstream are remembered for it (least recently used dropped beyond `maxBlocks`, forgotten after
 * `ttlMs`: the upstream's cache evicts too). A prompt's score on an upstream is the share of its
 * leading blocks found there. Characters stand in for tokens: the router has no tokenizer.
 */

/** FNV-1a over a string's UTF-16 units, seeded with the previous block's hash. */
function hashBlock(seed: number, text: string, start: number, end: number): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (let i = start; i < end; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** The chained block hashes of `text` (full blocks only), seeded by the model's name. */
export function blockHashes(model: string, text: string, blockChars: number): number[] {
  const out: number[] = [];
  let h = hashBlock(0, model, 0, model.length);
  for (let start = 0; start + blockChars <= text.length; start += blockChars) {
    h = hashBlock(h, text, start, start + blockChars);
    out.push(h);
  }
  return out;
}

export class PrefixIndex {
  /** Block hash → when it was last routed here; Map order is recency (oldest first). */
  private readonly blocks = new Map<number, number>();

  constructor(private readonly maxBlocks: number, private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.blocks.size;
  }

  /** How many of the leading hashes this upstream is thought to hold. */
  match(hashes: readonly number[]): number {
    const t = this.now();
    let n = 0;
    for (const h of hashes) {
      const seen = this.blocks.get(h);
      if (seen === undefined || t - seen > this.ttlMs) break;
      n++;
    }
    return n;
  }

  /** Records a prompt routed here. */
  add(hashes: readonly number[]): void {
    const t = this.now();
    for (const h of hashes) {
      this.blocks.delete(h);
      this.blocks.set(h, t);
    }
    if (this.blocks.size > this.maxBlocks) {
      let excess = this.blocks.size - this.maxBlocks;
      for (const h of this.blocks.keys()) {
        if (excess-- <= 0) break;
        this.blocks.delete(h);
      }
    }
  }

  clear(): void {
    this.blocks.clear();
  }
}

/**
 * The text a request's prompt starts with, as the upstream will see it (tools first, then messages
 * in order), up to about `maxChars` characters: parts after that are not looked at.
 */
export function promptText(body: Record<string, unknown>, maxChars = Infinity): string {
  const parts: string[] = [];
  let length = 0;
  const push = (part: string) => {
    parts.push(part);
    length += part.length + 1;
    return length >= maxChars;
  };
  const content = (c: unknown): string =>
    typeof c === "string" ? c : Array.isArray(c) ? c.map((p) => (typeof p === "string" ? p : typeof (p as { text?: unknown })?.text === "string" ? (p as { text: string }).text : JSON.stringify(p))).join("") : c == null ? "" : JSON.stringify(c);
  const text = () => {
    const joined = parts.join("\n");
    return joined.length > maxChars ? joined.slice(0, maxChars) : joined;
  };
  if (Array.isArray(body.tools) && push(JSON.stringify(body.tools))) return text();
  if (body.system !== undefined && push(`system:${content(body.system)}`)) return text();
  if (Array.isArray(body.messages)) {
    for (const m of body.messages as { role?: unknown; content?: unknown }[]) if (push(`${String(m?.role)}:${content(m?.content)}`)) break;
  } else if (body.prompt !== undefined) {
    push(Array.isArray(body.prompt) ? body.prompt.map((p) => (typeof p === "string" ? p : JSON.stringify(p))).join("\n") : content(body.prompt));
  }
  return text();
}
