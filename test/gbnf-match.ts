/**
 * A small GBNF recogniser for unit tests: does a grammar's `root` accept a whole string? It reads
 * the subset of llama.cpp's GBNF that Nimble's grammars use (rules, literals, character classes
 * with ranges and negation, groups, alternation, `* + ? {n} {n,} {n,m}`, `#` comments) and works
 * on code points, as llama.cpp does. It lets grammar-producing code be tested by the language its
 * grammars accept, without llama.cpp or a model.
 */
type Node =
  | { t: "lit"; cps: number[] }
  | { t: "cls"; neg: boolean; ranges: Array<[number, number]> }
  | { t: "ref"; name: string }
  | { t: "seq"; items: Node[] }
  | { t: "alt"; items: Node[] }
  | { t: "rep"; node: Node; min: number; max: number };

class Parser {
  pos = 0;
  constructor(private readonly src: string) {}

  private fail(message: string): never {
    throw new Error(`GBNF: ${message} at ${this.pos} in ${JSON.stringify(this.src)}`);
  }

  private skip(): void {
    for (;;) {
      const c = this.src[this.pos];
      if (c === " " || c === "\t" || c === "\n" || c === "\r") this.pos++;
      else if (c === "#") while (this.pos < this.src.length && this.src[this.pos] !== "\n") this.pos++;
      else return;
    }
  }

  /** One character (code point) of a literal or class, escapes read. */
  private char(): number {
    const c = this.src[this.pos++];
    if (c === undefined) this.fail("unexpected end");
    if (c !== "\\") {
      const cp = this.src.codePointAt(this.pos - 1)!;
      if (cp > 0xffff) this.pos++;
      return cp;
    }
    const e = this.src[this.pos++];
    const hex = (n: number) => {
      const h = this.src.slice(this.pos, this.pos + n);
      if (!/^[0-9a-fA-F]+$/.test(h) || h.length !== n) this.fail(`bad \\x escape`);
      this.pos += n;
      return parseInt(h, 16);
    };
    switch (e) {
      case "n": return 10;
      case "r": return 13;
      case "t": return 9;
      case "x": return hex(2);
      case "u": return hex(4);
      case "U": return hex(8);
      case "\\": case '"': case "[": case "]": case "-": return e.charCodeAt(0);
      default: return this.fail(`unknown escape \\${e}`);
    }
  }

  alternation(): Node {
    const items = [this.sequence()];
    while (this.src[this.pos] === "|") {
      this.pos++;
      items.push(this.sequence());
    }
    return items.length === 1 ? items[0]! : { t: "alt", items };
  }

  private sequence(): Node {
    const items: Node[] = [];
    for (;;) {
      this.skip();
      const c = this.src[this.pos];
      if (c === undefined || c === "|" || c === ")") break;
      let atom = this.atom();
      for (;;) {
        const q = this.src[this.pos];
        if (q === "*") atom = { t: "rep", node: atom, min: 0, max: Infinity };
        else if (q === "+") atom = { t: "rep", node: atom, min: 1, max: Infinity };
        else if (q === "?") atom = { t: "rep", node: atom, min: 0, max: 1 };
        else if (q === "{") {
          const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos));
          if (!m) this.fail("bad {} quantifier");
          const min = Number(m[1]);
          const max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
          atom = { t: "rep", node: atom, min, max };
          this.pos += m[0].length - 1;
        } else break;
        this.pos++;
      }
      items.push(atom);
    }
    return items.length === 1 ? items[0]! : { t: "seq", items };
  }

  private atom(): Node {
    const c = this.src[this.pos];
    if (c === '"') {
      this.pos++;
      const cps: number[] = [];
      while (this.src[this.pos] !== '"') cps.push(this.char());
      this.pos++;
      return { t: "lit", cps };
    }
    if (c === "[") {
      this.pos++;
      let neg = false;
      if (this.src[this.pos] === "^") {
        neg = true;
        this.pos++;
      }
      const ranges: Array<[number, number]> = [];
      while (this.src[this.pos] !== "]") {
        const lo = this.char();
        if (this.src[this.pos] === "-" && this.src[this.pos + 1] !== "]") {
          this.pos++;
          ranges.push([lo, this.char()]);
        } else ranges.push([lo, lo]);
      }
      this.pos++;
      return { t: "cls", neg, ranges };
    }
    if (c === "(") {
      this.pos++;
      const inner = this.alternation();
      this.skip();
      if (this.src[this.pos++] !== ")") this.fail("missing )");
      return inner;
    }
    const m = /^[a-zA-Z0-9_-]+/.exec(this.src.slice(this.pos));
    if (!m) this.fail(`unexpected ${JSON.stringify(c)}`);
    this.pos += m[0].length;
    return { t: "ref", name: m[0] };
  }
}

/** The grammar's rules by name; throws on text it cannot read (or on a rule defined twice). */
export function parseGbnf(gbnf: string): Map<string, Node> {
  const rules = new Map<string, Node>();
  const starts = [...gbnf.matchAll(/^[ \t]*([a-zA-Z0-9_-]+)[ \t]*::=/gm)];
  if (starts.length === 0) throw new Error(`GBNF: no rules in ${JSON.stringify(gbnf)}`);
  starts.forEach((m, i) => {
    const body = gbnf.slice(m.index! + m[0].length, i + 1 < starts.length ? starts[i + 1]!.index : gbnf.length);
    const parser = new Parser(body);
    const node = parser.alternation();
    if (parser.pos < body.replace(/\s+$/, "").length) throw new Error(`GBNF: trailing text in rule ${m[1]}: ${JSON.stringify(body.slice(parser.pos))}`);
    if (rules.has(m[1]!)) throw new Error(`GBNF: rule ${m[1]} defined twice`);
    rules.set(m[1]!, node);
  });
  for (const [, node] of rules) checkRefs(node, rules);
  return rules;
}

function checkRefs(node: Node, rules: Map<string, Node>): void {
  if (node.t === "ref" && !rules.has(node.name)) throw new Error(`GBNF: undefined rule ${node.name}`);
  if (node.t === "seq" || node.t === "alt") node.items.forEach((n) => checkRefs(n, rules));
  if (node.t === "rep") checkRefs(node.node, rules);
}

/** A compiled recogniser: `accepts(text)` is whether `root` matches the whole text. */
export function gbnfMatcher(gbnf: string): (text: string) => boolean {
  const rules = parseGbnf(gbnf);
  if (!rules.has("root")) throw new Error("GBNF: no root rule");
  return (text) => {
    const cps = Array.from(text, (c) => c.codePointAt(0)!);
    const memo = new Map<string, Set<number>>();
    const ends = (node: Node, pos: number): Set<number> => {
      switch (node.t) {
        case "lit": {
          for (let i = 0; i < node.cps.length; i++) if (cps[pos + i] !== node.cps[i]) return new Set();
          return new Set([pos + node.cps.length]);
        }
        case "cls": {
          const cp = cps[pos];
          if (cp === undefined) return new Set();
          const inside = node.ranges.some(([lo, hi]) => cp >= lo && cp <= hi);
          return inside !== node.neg ? new Set([pos + 1]) : new Set();
        }
        case "ref": {
          const key = `${node.name}@${pos}`;
          let hit = memo.get(key);
          if (!hit) {
            memo.set(key, new Set()); // no left recursion in these grammars
            hit = ends(rules.get(node.name)!, pos);
            memo.set(key, hit);
          }
          return hit;
        }
        case "seq": {
          let current = new Set([pos]);
          for (const item of node.items) {
            const next = new Set<number>();
            for (const p of current) for (const e of ends(item, p)) next.add(e);
            current = next;
            if (current.size === 0) break;
          }
          return current;
        }
        case "alt": {
          const out = new Set<number>();
          for (const item of node.items) for (const e of ends(item, pos)) out.add(e);
          return out;
        }
        case "rep": {
          const out = new Set<number>();
          if (node.min === 0) out.add(pos);
          let frontier = new Set([pos]);
          const seen = new Set<number>();
          for (let count = 1; count <= node.max && frontier.size > 0; count++) {
            const next = new Set<number>();
            for (const p of frontier) for (const e of ends(node.node, p)) next.add(e);
            if (count >= node.min) {
              for (const e of next) out.add(e);
              // Past the minimum only new positions can add anything.
              frontier = new Set([...next].filter((e) => !seen.has(e)));
              for (const e of next) seen.add(e);
            } else frontier = next;
          }
          return out;
        }
      }
    };
    return ends({ t: "ref", name: "root" }, 0).has(cps.length);
  };
}
