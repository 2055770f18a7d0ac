/**
 * Translates a regular expression into a GBNF grammar whose language is the whole-output matches
 * of the regex (guided_regex). Supported: literals and escapes, `.`, character classes (ranges,
 * negation, \d \w \s and their negations), groups `( )` and `(?: )`, alternation, and the
 * quantifiers `* + ? {n} {n,} {n,m}` (lazy forms behave the same: the whole output must match),
 * and the anchors `^` and `$` where they can hold: `^` at the start of the regex or of an
 * alternative that starts it (`^a|^b`, `(^a|b)c`), `$` at the end of the regex or of an
 * alternative that ends it, also inside an optional group (`(^a)?b`). There they change nothing,
 * since the whole output must match. Where an anchor cannot hold (`a^b`, `a$b`, `(^a)*`) the regex
 * is refused, not read as a literal (a literal dollar is `\$`). What a grammar cannot express —
 * backreferences, lookaround, word boundaries — is rejected.
 */
import { gbnfLiteral } from "./grammar.js";
import { GrammarError } from "./types.js";

const CLASS_ESCAPES: Record<string, string> = {
  d: "0-9",
  w: "a-zA-Z0-9_",
  s: " \\t\\n\\r\\x0C\\x0B",
};

/** Quantifiers under which a group may hold an anchor: it matches at most once. */
const AT_MOST_ONCE = new Set(["", "?", "{0}", "{1}", "{0,1}"]);

/** A character inside a GBNF character class. */
function classChar(c: string): string {
  if (c === "]" || c === "\\" || c === "-") return `\\${c}`;
  if (c === "^") return "\\x5E";
  if (c === "\f") return "\\x0C";
  if (c === "\v") return "\\x0B";
  if (c === "\n") return "\\n";
  if (c === "\t") return "\\t";
  if (c === "\r") return "\\r";
  return c;
}

/** One top-level alternative of a regex: its GBNF, and whether it is anchored at the start and at the end. */
export interface RegexBranch {
  gbnf: string;
  start: boolean;
  end: boolean;
}

class RegexParser {
  private pos = 0;
  /** Anchors consumed so far (to refuse them inside a repeated group). */
  private anchors = 0;
  /** @param search JSON Schema's search semantics: anchors only at the ends of top-level alternatives. */
  constructor(
    private readonly src: string,
    private readonly search = false,
  ) {}

  private fail(message: string): never {
    throw new GrammarError(`${message} (at position ${this.pos} of the regex)`);
  }

  private peek(): string | undefined {
    return this.src[this.pos];
  }

  parse(): RegexBranch[] {
    const branches = this.alternation(true, 0);
    if (this.pos < this.src.length) this.fail(`unexpected "${this.peek()}"`);
    return branches;
  }

  /** Alternatives separated by "|"; `atStart`: nothing can precede them in a match. */
  private alternation(atStart: boolean, depth: number): RegexBranch[] {
    const branches = [this.sequence(atStart, depth)];
    while (this.peek() === "|") {
      this.pos++;
      branches.push(this.sequence(atStart, depth));
    }
    return branches;
  }

  /** A sequence of atoms. `end` in the result: it holds a "$", so nothing may follow it in a match. */
  private sequence(atStart: boolean, depth: number): RegexBranch {
    const parts: string[] = [];
    let start = false;
    let end = false;
    for (;;) {
      const c = this.peek();
      if (c === undefined || c === "|" || c === ")") break;
      if (c === "$") {
        if (this.search && depth > 0) this.fail('in a pattern, "$" may only end the pattern or one of its top-level alternatives');
        this.pos++;
        this.anchors++;
        end = true;
        continue;
      }
      if (end) this.fail('"$" here would need more text after the end; write \\$ for a dollar sign');
      if (c === "^") {
        if (!atStart || parts.length > 0) this.fail('"^" here would need text before the start; write \\^ for a caret');
        if (this.search && depth > 0) this.fail('in a pattern, "^" may only start the pattern or one of its top-level alternatives');
        this.pos++;
        this.anchors++;
        start = true;
        continue;
      }
      const anchorsBefore = this.anchors;
      const atom = this.atom(atStart && parts.length === 0, depth);
      const quantifier = this.quantifier();
      if (!AT_MOST_ONCE.has(quantifier) && this.anchors !== anchorsBefore) this.fail("an anchor inside a repeated group cannot be expressed by a grammar");
      parts.push(atom.gbnf + quantifier);
      end = atom.end;
    }
    return { gbnf: parts.length === 0 ? '""' : parts.join(" "), start, end };
  }

  private quantifier(): string {
    const c = this.peek();
    let q = "";
    if (c === "*" || c === "+" || c === "?") {
      this.pos++;
      q = c;
    } else if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos));
      if (!m) return "";
      this.pos += m[0].length;
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === "" ? undefined : Number(m[3]);
      if (max !== undefined && max < min) this.fail(`quantifier {${min},${max}} has its bounds the wrong way round`);
      q = max === undefined ? `{${min},}` : max === min ? `{${min}}` : `{${min},${max}}`;
    } else {
      return "";
    }
    if (this.peek() === "?") this.pos++; // lazy: the whole output must match either way
    if (this.peek() === "+") this.fail("possessive quantifiers are not supported");
    return q;
  }

  /** One atom; `end`: a group holding a "$" (nothing may follow it). */
  private atom(atStart: boolean, depth: number): { gbnf: string; end: boolean } {
    const c = this.src[this.pos++]!;
    if (c === "(") {
      if (this.src.startsWith("?:", this.pos)) this.pos += 2;
      else if (this.peek() === "?") {
        const named = /^\?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(this.src.slice(this.pos));
        if (named) this.pos += named[0].length;
        else this.fail("lookaround and inline flags cannot be expressed by a grammar");
      }
      const inner = this.alternation(atStart, depth + 1);
      if (this.src[this.pos++] !== ")") this.fail("missing )");
      return { gbnf: `(${joinBranches(inner)})`, end: inner.some((b) => b.end) };
    }
    return { gbnf: this.simpleAtom(c), end: false };
  }

  private simpleAtom(c: string): string {
    switch (c) {
      case "[":
        return this.charClass();
      case ".":
        return "[^\\n]";
      case "\\":
        return this.escape(false);
      case "*":
      case "+":
      case "?":
      case "{":
        this.pos--;
        return this.fail(`nothing to repeat before "${c}"`);
      case ")":
        this.pos--;
        return this.fail("unmatched )");
      default:
        return gbnfLiteral(c);
    }
  }

  /** An escape after "\\": a class, or a literal character. Inside a class, returns class content. */
  private escape(inClass: boolean): string {
    const c = this.src[this.pos++];
    if (c === undefined) this.fail("the regex ends with a backslash");
    if (CLASS_ESCAPES[c.toLowerCase()]) {
      const set = CLASS_ESCAPES[c.toLowerCase()]!;
      const negated = c !== c.toLowerCase();
      if (inClass) {
        if (negated) this.fail(`\\${c} inside a character class is not supported`);
        return set;
      }
      return negated ? `[^${set}]` : `[${set}]`;
    }
    if (/[1-9]/.test(c)) this.fail("backreferences cannot be expressed by a grammar");
    if (c === "b" || c === "B") this.fail("word boundaries cannot be expressed by a grammar");
    const literal = c === "n" ? "\n" : c === "t" ? "\t" : c === "r" ? "\r" : c === "f" ? "\f" : c === "v" ? "\v" : c;
    if (/[A-Za-z0-9]/.test(c) && !"ntrfv".includes(c)) this.fail(`unknown escape \\${c}`);
    return inClass ? classChar(literal) : gbnfLiteral(literal);
  }

  private charClass(): string {
    let negated = false;
    if (this.peek() === "^") {
      negated = true;
      this.pos++;
    }
    let body = "";
    let first = true;
    for (;;) {
      const c = this.src[this.pos++];
      if (c === undefined) this.fail("missing ]");
      if (c === "]" && !first) break;
      first = false;
      if (c === "\\") {
        body += this.escape(true);
        continue;
      }
      if (c === "-" && body !== "" && this.peek() !== "]") {
        body += "-";
        continue;
      }
      body += classChar(c);
    }
    return `[${negated ? "^" : ""}${body}]`;
  }
}

function joinBranches(branches: RegexBranch[]): string {
  return branches.length === 1 ? branches[0]!.gbnf : `(${branches.map((b) => b.gbnf).join(" | ")})`;
}

/** A grammar for the whole-output matches of the regex (anchors where they hold change nothing). */
export function regexToGbnf(regex: string): string {
  return `root ::= ${joinBranches(new RegexParser(regex).parse())}`;
}

/**
 * The top-level alternatives of a JSON Schema `pattern` (search semantics: an alternative not
 * anchored at a side matches with any text there). Anchors inside groups are refused.
 */
export function regexSearchBranches(pattern: string): RegexBranch[] {
  return new RegexParser(pattern, true).parse();
}
