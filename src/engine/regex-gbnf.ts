/**
 * Translates a regular expression into a GBNF grammar whose language is the whole-output matches
 * of the regex (guided_regex). Supported: literals and escapes, `.`, character classes (ranges,
 * negation, \d \w \s and their negations), groups `( )` and `(?: )`, alternation, and the
 * quantifiers `* + ? {n} {n,} {n,m}` (lazy forms behave the same: the whole output must match).
 * What a grammar cannot express — backreferences, lookaround, word boundaries — is rejected.
 */
import { gbnfLiteral } from "./grammar.js";
import { GrammarError } from "./types.js";

const CLASS_ESCAPES: Record<string, string> = {
  d: "0-9",
  w: "a-zA-Z0-9_",
  s: " \\t\\n\\r\\x0C\\x0B",
};

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

class RegexParser {
  private pos = 0;
  constructor(private readonly src: string) {}

  private fail(message: string): never {
    throw new GrammarError(`${message} (at position ${this.pos} of the regex)`);
  }

  private peek(): string | undefined {
    return this.src[this.pos];
  }

  parse(): string {
    if (this.peek() === "^") this.pos++;
    const expr = this.alternation();
    if (this.pos < this.src.length) this.fail(`unexpected "${this.peek()}"`);
    return expr;
  }

  private alternation(): string {
    const branches = [this.sequence()];
    while (this.peek() === "|") {
      this.pos++;
      branches.push(this.sequence());
    }
    return branches.length === 1 ? branches[0]! : `(${branches.join(" | ")})`;
  }

  private sequence(): string {
    const parts: string[] = [];
    for (;;) {
      const c = this.peek();
      if (c === undefined || c === "|" || c === ")") break;
      if (c === "$" && this.pos === this.src.length - 1) {
        this.pos++;
        break;
      }
      const atom = this.atom();
      parts.push(atom + this.quantifier());
    }
    return parts.length === 0 ? '""' : parts.join(" ");
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

  private atom(): string {
    const c = this.src[this.pos++]!;
    switch (c) {
      case "(": {
        if (this.src.startsWith("?:", this.pos)) this.pos += 2;
        else if (this.peek() === "?") {
          const named = /^\?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(this.src.slice(this.pos));
          if (named) this.pos += named[0].length;
          else this.fail("lookaround and inline flags cannot be expressed by a grammar");
        }
        const inner = this.alternation();
        if (this.src[this.pos++] !== ")") this.fail("missing )");
        return `(${inner})`;
      }
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

export function regexToGbnf(regex: string): string {
  return `root ::= ${new RegexParser(regex).parse()}`;
}
