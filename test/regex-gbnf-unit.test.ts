/**
 * regexToGbnf without an engine: the grammar it writes accepts exactly the strings the regex
 * matches in full (checked against JavaScript's RegExp on every short string over an alphabet
 * made for each regex, with test/gbnf-match.ts as the grammar's recogniser), the exact text of
 * some translations, and each refusal with its reason and position.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { regexToGbnf } from "../src/engine/regex-gbnf.js";
import { GrammarError } from "../src/engine/types.js";
import { gbnfMatcher } from "./gbnf-match.js";

/** Every string of length 0..maxLen over the alphabet. */
function* strings(alphabet: string[], maxLen: number): Generator<string> {
  let level = [""];
  yield "";
  for (let n = 1; n <= maxLen; n++) {
    const next: string[] = [];
    for (const s of level) for (const c of alphabet) next.push(s + c);
    yield* next;
    level = next;
  }
}

/** The grammar accepts a string exactly when the regex matches all of it; returns how many matched. */
function assertSameLanguage(regex: string, alphabet: string[], maxLen: number, extra: string[] = []): number {
  const accepts = gbnfMatcher(regexToGbnf(regex));
  const re = new RegExp(`^(?:${regex})$`, "u");
  let matched = 0;
  for (const s of [...strings(alphabet, maxLen), ...extra]) {
    const expected = re.test(s);
    assert.equal(accepts(s), expected, `${JSON.stringify(regex)} on ${JSON.stringify(s)}: regex says ${expected}`);
    if (expected) matched++;
  }
  return matched;
}

describe("regexToGbnf: the grammar's language is the regex's", () => {
  const cases: Array<[string, string[], number, string[]?]> = [
    ["abc", ["a", "b", "c"], 4],
    ["^ab$", ["a", "b"], 3],
    ["a|b|", ["a", "b"], 2],
    ["a(b|c)d", ["a", "b", "c", "d"], 4],
    ["(?:ab)+", ["a", "b"], 5],
    ["(?<word>ab)?c", ["a", "b", "c"], 4],
    ["a*b+c?", ["a", "b", "c"], 4],
    ["a{2}", ["a", "b"], 4],
    ["a{2,}", ["a", "b"], 5],
    ["a{1,3}b", ["a", "b"], 5],
    ["a{0,1}", ["a"], 3],
    ["a{2,3}?", ["a"], 5],
    ["a+?b*?", ["a", "b"], 4],
    ["[abc]", ["a", "b", "c", "d"], 2],
    ["[a-c]x", ["a", "b", "c", "d", "x", "-"], 2],
    ["[^a-c]", ["a", "c", "d", "\n", "-"], 2],
    ["[a-]", ["a", "-", "b"], 2],
    ["[-a]", ["a", "-", "b"], 2],
    ["[a\\-z]", ["a", "-", "z", "b"], 2],
    ["[\\]\\\\^]", ["]", "\\", "^", "a"], 2],
    ["[\\d_]", ["0", "9", "_", "a"], 2],
    ["[\\w]", ["a", "Z", "0", "_", "-", " "], 2],
    ["[\\s]", [" ", "\t", "\n", "\r", "\f", "\v", "a"], 2],
    ["[\\n\\t]", ["\n", "\t", "n", "t"], 2],
    ["[^\\s,^]", [" ", ",", "^", "a", "\t"], 2],
    ["\\d{3}", ["0", "5", "9", "a"], 4],
    ["\\D", ["0", "a", "-"], 2],
    ["\\w+", ["a", "Z", "_", "9", "-"], 3],
    ["\\W", ["a", "-", " "], 2],
    ["\\s", [" ", "\t", "\n", "\r", "\f", "\v", "a"], 1],
    ["\\S", [" ", "\n", "a"], 2],
    ["a.b", ["a", "b", "\n", " "], 3],
    ["\\.\\*\\+\\?\\(\\)\\[\\]\\{\\}\\|\\^\\$\\\\\\/", [".", "a"], 1, [".*+?()[]{}|^$\\/"]],
    ["\\n\\t\\r\\f\\v", ["\n"], 1, ["\n\t\r\f\v"]],
    ['"q"', ['"', "q"], 3],
    ["\\$", ["$"], 2],
    ["a$", ["a", "$"], 2],
    ["$$", ["$", "a"], 2],
    ["^^a$$", ["a", "^", "$"], 3],
    ["^a|^b", ["a", "b"], 2],
    ["a$|b$|c", ["a", "b", "c", "$"], 2],
    ["^a|b$", ["a", "b", "^", "$"], 2],
    ["(^a|b)c", ["a", "b", "c", "^"], 3],
    ["(?:a|(b$))", ["a", "b", "$"], 2],
    ["x(a$|b$)", ["x", "a", "b", "$"], 3],
    ["(^a)?b", ["a", "b"], 3],
    ["a(b$){0,1}", ["a", "b"], 3],
    ["()", ["a"], 1],
    ["é+|ß", ["é", "ß", "e"], 3],
    ["(a|bc)*d", ["a", "b", "c", "d"], 5],
    ["v\\d\\.\\d{1,2}(-(alpha|beta))?", ["v", "1", "."], 5, ["v1.2-alpha", "v1.23-beta", "v1.234", "v1.2-gamma"]],
  ];
  for (const [regex, alphabet, maxLen, extra] of cases) {
    it(JSON.stringify(regex), () => {
      const matched = assertSameLanguage(regex, alphabet, maxLen, extra);
      assert.ok(matched > 0, `${regex}: some string must match for the check to mean anything`);
    });
  }
});

describe("regexToGbnf: exact translations", () => {
  it("writes literals, classes and quantifiers as GBNF", () => {
    assert.equal(regexToGbnf("^\\d{3}-[a-c]+$"), 'root ::= [0-9]{3} "-" [a-c]+');
    assert.equal(regexToGbnf("(?:yes|no)!?"), 'root ::= (("y" "e" "s" | "n" "o")) "!"?');
    assert.equal(regexToGbnf("[^\\s,^]x{2,}?"), 'root ::= [^ \\t\\n\\r\\x0C\\x0B,\\x5E] "x"{2,}');
    assert.equal(regexToGbnf("a.\\.\\(\\\\"), 'root ::= "a" [^\\n] "." "(" "\\\\"');
    assert.equal(regexToGbnf(""), 'root ::= ""');
    assert.equal(regexToGbnf("a|"), 'root ::= ("a" | "")');
    assert.equal(regexToGbnf("a{2,2}b{0,}c{1,3}"), 'root ::= "a"{2} "b"{0,} "c"{1,3}');
    assert.equal(regexToGbnf("[\\f\\v\\n\\t\\r-]"), "root ::= [\\x0C\\x0B\\n\\t\\r\\-]");
    assert.equal(regexToGbnf("[\f\v\n\t\r]"), "root ::= [\\x0C\\x0B\\n\\t\\r]");
    assert.equal(regexToGbnf('\\"\\n'), 'root ::= "\\"" "\\n"');
    assert.equal(regexToGbnf("\\W\\S\\D"), "root ::= [^a-zA-Z0-9_] [^ \\t\\n\\r\\x0C\\x0B] [^0-9]");
    assert.equal(regexToGbnf("[^]a]"), "root ::= [^\\]a]");
    assert.equal(regexToGbnf("[]a]"), "root ::= [\\]a]");
    assert.equal(regexToGbnf("[-a]"), "root ::= [\\-a]");
    assert.equal(regexToGbnf("[a-]"), "root ::= [a\\-]");
    assert.equal(regexToGbnf("a{10}b{2,10}c{12,}"), 'root ::= "a"{10} "b"{2,10} "c"{12,}');
  });

  it("drops the anchors that hold wherever they are", () => {
    assert.equal(regexToGbnf("$$"), 'root ::= ""');
    assert.equal(regexToGbnf("^a|^b$"), 'root ::= ("a" | "b")');
    assert.equal(regexToGbnf("(^a|b)c$"), 'root ::= (("a" | "b")) "c"');
    assert.equal(regexToGbnf("\\^\\$"), 'root ::= "^" "$"');
  });
});

describe("regexToGbnf: refusals", () => {
  const refusals: Array<[string, string]> = [
    ["(a)\\1", "backreferences cannot be expressed by a grammar (at position 5 of the regex)"],
    ["(?=a)b", "lookaround and inline flags cannot be expressed by a grammar (at position 1 of the regex)"],
    ["(?!a)", "lookaround and inline flags cannot be expressed by a grammar (at position 1 of the regex)"],
    ["(?i)a", "lookaround and inline flags cannot be expressed by a grammar (at position 1 of the regex)"],
    ["\\bx", "word boundaries cannot be expressed by a grammar (at position 2 of the regex)"],
    ["x\\B", "word boundaries cannot be expressed by a grammar (at position 3 of the regex)"],
    ["a{3,1}", "quantifier {3,1} has its bounds the wrong way round (at position 6 of the regex)"],
    ["*a", 'nothing to repeat before "*" (at position 0 of the regex)'],
    ["a|+", 'nothing to repeat before "+" (at position 2 of the regex)'],
    ["(?", "lookaround and inline flags cannot be expressed by a grammar (at position 1 of the regex)"],
    ["{2}", 'nothing to repeat before "{" (at position 0 of the regex)'],
    ["a**", 'nothing to repeat before "*" (at position 2 of the regex)'],
    ["a++", "possessive quantifiers are not supported (at position 2 of the regex)"],
    ["a)", 'unexpected ")" (at position 1 of the regex)'],
    ["(ab", "missing ) (at position 4 of the regex)"],
    ["[ab", "missing ] (at position 4 of the regex)"],
    ["[", "missing ] (at position 2 of the regex)"],
    ["[^", "missing ] (at position 3 of the regex)"],
    ["\\q", "unknown escape \\q (at position 2 of the regex)"],
    ["\\0", "unknown escape \\0 (at position 2 of the regex)"],
    ["[\\D]", "\\D inside a character class is not supported (at position 3 of the regex)"],
    ["ab\\", "the regex ends with a backslash (at position 4 of the regex)"],
    ["a{,2}", 'nothing to repeat before "{" (at position 1 of the regex)'],
    ["a{x}", 'nothing to repeat before "{" (at position 1 of the regex)'],
    ["a{x}{2}", 'nothing to repeat before "{" (at position 1 of the regex)'],
    ["?", 'nothing to repeat before "?" (at position 0 of the regex)'],
    ["(?=(?<n>a))", "lookaround and inline flags cannot be expressed by a grammar (at position 1 of the regex)"],
    ["a$b", '"$" here would need more text after the end; write \\$ for a dollar sign (at position 2 of the regex)'],
    ["$^", '"$" here would need more text after the end; write \\$ for a dollar sign (at position 1 of the regex)'],
    ["(a$)b", '"$" here would need more text after the end; write \\$ for a dollar sign (at position 4 of the regex)'],
    ["(a$|b)c", '"$" here would need more text after the end; write \\$ for a dollar sign (at position 6 of the regex)'],
    ["a^b", '"^" here would need text before the start; write \\^ for a caret (at position 1 of the regex)'],
    ["a(^b)", '"^" here would need text before the start; write \\^ for a caret (at position 2 of the regex)'],
    ["(a|b)(^c)", '"^" here would need text before the start; write \\^ for a caret (at position 6 of the regex)'],
    ["(^a)*", "an anchor inside a repeated group cannot be expressed by a grammar (at position 5 of the regex)"],
    ["(a$){2}", "an anchor inside a repeated group cannot be expressed by a grammar (at position 7 of the regex)"],
  ];
  for (const [regex, message] of refusals) {
    it(JSON.stringify(regex), () => {
      assert.throws(() => regexToGbnf(regex), (err: unknown) => {
        assert.ok(err instanceof GrammarError, String(err));
        assert.equal(err.message, message);
        return true;
      });
    });
  }
});
