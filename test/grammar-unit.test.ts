/**
 * The grammar modules without llama.cpp: the languages of the GBNF that schema-gbnf.ts writes
 * (integer ranges checked on every integer near their bounds, patterns, formats) and of grammar.ts's
 * JSON grammar, recognised with test/gbnf-match.ts; the text rewrites of node-llama-cpp's schema
 * grammars; wrapping; and GrammarCache on a stand-in for node-llama-cpp's Llama.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Llama, LlamaGrammar } from "node-llama-cpp";
import { gbnfLiteral, GrammarCache, JSON_GBNF, tightenSchemaGrammar, wrapGbnf } from "../src/engine/grammar.js";
import { applyExtendedRules, extractExtendedRules, integerRangeGbnf, isExtendedFormat } from "../src/engine/schema-gbnf.js";
import { GrammarError } from "../src/engine/types.js";
import { gbnfMatcher } from "./gbnf-match.js";

/** A recogniser of one rule's expression. */
const rule = (expr: string) => gbnfMatcher(`root ::= ${expr}`);

describe("integerRangeGbnf", () => {
  const ranges: Array<[bigint | undefined, bigint | undefined]> = [
    [0n, 0n], [5n, 5n], [0n, 9n], [3n, 7n], [1n, 100n], [10n, 99n], [15n, 342n], [-20n, 20n], [-345n, -12n], [-9n, -1n], [-100n, 0n],
    [99n, 1000n], [100n, 199n], [120n, 129n], [101n, 998n], [-1n, -1n], [7n, 70n], [0n, 1200n],
  ];
  for (const [lo, hi] of ranges) {
    it(`[${lo}, ${hi}] accepts exactly its integers, written without leading zeros`, () => {
      const accepts = rule(integerRangeGbnf(lo, hi));
      for (let n = -1300; n <= 1300; n++) assert.equal(accepts(String(n)), n >= lo! && n <= hi!, String(n));
      for (const text of ["", "-", "-0", "00", "01", "+1", "1.0", "1e2", " 1"]) assert.equal(accepts(text), false, JSON.stringify(text));
    });
  }

  it("has open sides up to 15 digits", () => {
    const atLeast = rule(integerRangeGbnf(-5n, undefined));
    for (const [text, ok] of [["-5", true], ["-6", false], ["0", true], ["999999999999999", true], ["1000000000000000", false], ["123456789", true]] as const) assert.equal(atLeast(text), ok, text);
    const atMost = rule(integerRangeGbnf(undefined, 12n));
    for (const [text, ok] of [["12", true], ["13", false], ["-999999999999999", true], ["-1000000000000000", false], ["-7", true]] as const) assert.equal(atMost(text), ok, text);
    const any = rule(integerRangeGbnf(undefined, undefined));
    for (const [text, ok] of [["0", true], ["-1", true], ["999999999999999", true], ["1000000000000000", false], ["-0", false]] as const) assert.equal(any(text), ok, text);
  });

  it("refuses an empty range", () => {
    assert.throws(() => integerRangeGbnf(3n, 2n), { message: "no integer is between the bounds 3 and 2" });
    assert.equal(integerRangeGbnf(3n, 3n), '("3")');
    assert.equal(integerRangeGbnf(-2n, 3n), '"-" (([1-2])) | ([0-3])');
    // Whole decades and centuries fold into one class; the ends get their own digits.
    const exact: Array<[bigint, bigint, string]> = [
      [0n, 999n, "([0-9]) | ([1-9] [0-9]{1}) | ([1-9] [0-9]{2})"],
      [100n, 199n, '("1" ([0-9] [0-9]{1}))'],
      [15n, 342n, '("1" ([5-9]) | [2-9] [0-9]{1}) | ([1-2] [0-9]{2} | "3" ([0-3] [0-9]{1} | "4" ([0-2])))'],
      [120n, 129n, '("1" ("2" ([0-9])))'],
      [7n, 70n, '([7-9]) | ([1-6] [0-9]{1} | "7" ("0"))'],
      [101n, 998n, '("1" ("0" ([1-9]) | [1-9] [0-9]{1}) | [2-8] [0-9]{2} | "9" ([0-8] [0-9]{1} | "9" ([0-8])))'],
      [500n, 599n, '("5" ([0-9] [0-9]{1}))'],
      [15n, 20n, '("1" ([5-9]) | "2" ("0"))'],
      [15n, 29n, '("1" ([5-9]) | "2" [0-9]{1})'],
    ];
    for (const [lo, hi, gbnf] of exact) assert.equal(integerRangeGbnf(lo, hi), gbnf, `[${lo}, ${hi}]`);
  });
});

describe("extractExtendedRules and applyExtendedRules", () => {
  /** The grammar of a value whose schema became one placeholder: the placeholder's literal replaced by its rule. */
  function valueGrammar(schema: Record<string, unknown>): (text: string) => boolean {
    const { schema: replaced, rules } = extractExtendedRules(schema);
    assert.equal(rules.size, 1);
    const name = [...rules.keys()][0]!;
    assert.deepEqual(replaced, { const: name });
    return gbnfMatcher(applyExtendedRules(`root ::= "\\"${name}\\""`, rules));
  }

  it("replaces bounded integers, patterns and extended formats by placeholders, anywhere in the schema", () => {
    const schema = {
      type: "object",
      properties: {
        n: { type: "integer", minimum: 1, maximum: 3 },
        free: { type: "integer" },
        s: { type: "string", pattern: "^a+$" },
        u: { type: "string", format: "uuid" },
        d: { type: "string", format: "date" },
        list: { type: "array", items: [{ type: "integer", exclusiveMaximum: 0 }] },
        e: { enum: [{ type: "integer", minimum: 1 }] },
        c: { const: { type: "string", pattern: "x" } },
      },
    };
    const { schema: out, rules } = extractExtendedRules(schema);
    assert.deepEqual(out, {
      type: "object",
      properties: {
        n: { const: "__NIMBLE_RULE_0__" },
        free: { type: "integer" },
        s: { const: "__NIMBLE_RULE_1__" },
        u: { const: "__NIMBLE_RULE_2__" },
        d: { type: "string", format: "date" },
        list: { type: "array", items: [{ const: "__NIMBLE_RULE_3__" }] },
        e: { enum: [{ type: "integer", minimum: 1 }] },
        c: { const: { type: "string", pattern: "x" } },
      },
    });
    assert.deepEqual([...rules.keys()], ["__NIMBLE_RULE_0__", "__NIMBLE_RULE_1__", "__NIMBLE_RULE_2__", "__NIMBLE_RULE_3__"]);
    assert.equal(rules.get("__NIMBLE_RULE_0__"), "([1-3])");
    const gbnf = applyExtendedRules('root ::= "{" "\\"__NIMBLE_RULE_0__\\"" "," "\\"__NIMBLE_RULE_3__\\"" "\\"__NIMBLE_RULE_0__\\"" "}"', rules);
    assert.equal(gbnf, `root ::= "{" nimble-rule-0 "," nimble-rule-3 nimble-rule-0 "}"\nnimble-rule-0 ::= ([1-3])\nnimble-rule-1 ::= ${rules.get("__NIMBLE_RULE_1__")}\nnimble-rule-2 ::= ${rules.get("__NIMBLE_RULE_2__")}\nnimble-rule-3 ::= ${rules.get("__NIMBLE_RULE_3__")}`);
    assert.deepEqual(extractExtendedRules({ type: "string", minLength: 2 }), { schema: { type: "string", minLength: 2 }, rules: new Map() });
    // Only integers get ranges, only strings patterns and formats.
    for (const schema of [{ type: "number", minimum: 1 }, { type: ["integer", "null"], minimum: 1 }, { type: ["number"], minimum: 1 }, { pattern: "a" }, { type: "integer", pattern: "a" }, { format: "uuid" }, { type: "number", format: "email" }, { type: "string", format: ["uuid"] }]) {
      assert.deepEqual(extractExtendedRules(schema), { schema, rules: new Map() }, JSON.stringify(schema));
    }
    assert.deepEqual(extractExtendedRules({ type: ["integer"], minimum: 1, maximum: 3 }), { schema: { const: "__NIMBLE_RULE_0__" }, rules: new Map([["__NIMBLE_RULE_0__", "([1-3])"]]) });
  });

  it("turns each kind of integer bound into the inclusive range", () => {
    const cases: Array<[Record<string, unknown>, string[], string[]]> = [
      [{ minimum: 2, maximum: 4 }, ["2", "3", "4"], ["1", "5"]],
      [{ exclusiveMinimum: 2, exclusiveMaximum: 5 }, ["3", "4"], ["2", "5"]],
      [{ minimum: 1.5, maximum: 3.5 }, ["2", "3"], ["1", "4"]],
      [{ exclusiveMinimum: 1.5, exclusiveMaximum: 3.5 }, ["2", "3"], ["1", "4"]],
      [{ minimum: 2, exclusiveMinimum: 3, maximum: 9, exclusiveMaximum: 6 }, ["4", "5"], ["3", "6"]],
      [{ minimum: 5, exclusiveMinimum: 3, maximum: 6, exclusiveMaximum: 9 }, ["5", "6"], ["4", "7"]],
      [{ exclusiveMinimum: -1 }, ["0", "999999999999999"], ["-1"]],
      [{ maximum: -3 }, ["-3", "-999999999999999"], ["-2"]],
    ];
    for (const [bounds, yes, no] of cases) {
      const accepts = valueGrammar({ type: "integer", ...bounds });
      for (const t of yes) assert.equal(accepts(t), true, `${JSON.stringify(bounds)} ${t}`);
      for (const t of no) assert.equal(accepts(t), false, `${JSON.stringify(bounds)} ${t}`);
    }
  });

  it("writes patterns as JSON strings, anchored or searched", () => {
    const cases: Array<[string, string[], string[]]> = [
      ["^ab+$", ['"ab"', '"abbb"'], ['"a"', '"xab"', '"abx"', "ab"]],
      ["ab", ['"ab"', '"xxabyy"'], ['"a"', '"b"']],
      ["^ab", ['"ab"', '"abyy"'], ['"xab"']],
      ["ab$", ['"ab"', '"xab"'], ['"abx"']],
      ["^a\\$", ['"a$"', '"a$x"'], ['"a"', '"xa$"']],
      ["^[^a]$", ['"b"', '"é"'], ['"a"', '"\\""', '"\\\\"', '"\n"', '"\u0001"']],
      ["^.$", ['"b"'], ['"\\""', '"\u001f"']],
      ["^a|b$", ['"a"', '"ax"', '"xb"', '"b"'], ['"xa"', '"bx"', '"x"']],
      ["^a$|b", ['"a"', '"b"', '"xbx"'], ['"ax"', '"xa"', '"x"']],
      ["^(a|b)$", ['"a"', '"b"'], ['"ab"', '"xa"', '"bx"']],
      ["a|", ['"a"', '""', '"x"'], []],
    ];
    for (const [pattern, yes, no] of cases) {
      const accepts = valueGrammar({ type: "string", pattern });
      for (const t of yes) assert.equal(accepts(t), true, `${pattern} ${t}`);
      for (const t of no) assert.equal(accepts(t), false, `${pattern} ${JSON.stringify(t)}`);
    }
    assert.throws(() => extractExtendedRules({ type: "string", pattern: "(a)\\1" }), GrammarError);
    // Anchors inside a group would need a search per branch of the group: refused, as is an anchor that cannot hold.
    for (const pattern of ["(^a|b)c", "x(a$|b$)", "a$b"]) {
      assert.throws(() => extractExtendedRules({ type: "string", pattern }), GrammarError, pattern);
    }
  });

  it("writes uuid, email and uri formats", () => {
    assert.equal(isExtendedFormat("uuid") && isExtendedFormat("email") && isExtendedFormat("uri"), true);
    assert.equal(isExtendedFormat("date") || isExtendedFormat("ipv4") || isExtendedFormat("toString"), false);
    const cases: Array<[string, string[], string[]]> = [
      ["uuid", ["123e4567-e89b-42d3-a456-426614174000", "00000000-0000-1000-8000-000000000000"], ["123e4567-e89b-02d3-a456-426614174000", "123e4567-e89b-42d3-c456-426614174000", "123E4567-e89b-42d3-a456-426614174000", "123e4567e89b42d3a456426614174000"]],
      ["email", ["a@b.co", "jane.doe+x@mail.example.com", "a_b%c@x-y.org"], ["a@b", "@b.co", "a@b.c", "a@-b.co", "a@b-.co", "a..b@c.co", "a b@c.co"]],
      ["uri", ["http://a.b", "https://example.com/path/x.html", "https://a-b.c/x/y~z"], ["ftp://a.b", "http://", "http://-a.b", "https://A.com", "http://a b"]],
    ];
    for (const [format, yes, no] of cases) {
      const accepts = valueGrammar({ type: "string", format });
      for (const t of yes) assert.equal(accepts(JSON.stringify(t)), true, `${format} ${t}`);
      for (const t of no) assert.equal(accepts(JSON.stringify(t)), false, `${format} ${t}`);
    }
  });
});

describe("grammar.ts", () => {
  it("gbnfLiteral escapes quotes, backslashes and control characters", () => {
    assert.equal(gbnfLiteral('a"b\\c\nd\re\tf'), '"a\\"b\\\\c\\nd\\re\\tf"');
    assert.equal(gbnfLiteral("a\n\nb"), '"a\\n\\nb"');
    for (const text of ['a"b\\c', "x\n\r\ty", "plain", ""]) assert.equal(rule(gbnfLiteral(text))(text), true, JSON.stringify(text));
  });

  it("JSON_GBNF accepts JSON objects with bounded numbers and UTF-8-safe strings", () => {
    const accepts = gbnfMatcher(JSON_GBNF);
    for (const ok of ['{}', '{ "a": 1}', '{"a":[1,-2.5,3e10,true,false,null,"x\\u00e9\\n"],"b":{}}', '{"k": "é ü"}', '{"a":0.5E-9}']) assert.equal(accepts(ok), true, ok);
    for (const bad of ["[]", '"x"', "1", '{"a":01}', '{"a":1e999}', '{"a":"\u0001"}', '{"a":"\u0080"}', '{"a":1,}', "{}x", '{"a":1.}']) assert.equal(accepts(bad), false, bad);
  });

  it("tightenSchemaGrammar: no trailing newlines, integers without exponents, two-digit exponents, UTF-8-safe strings", () => {
    const generated = [
      'root ::= "{" ws "}" "\\n\\n\\n\\n" [\\n]*',
      'integer-number-rule ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ([eE] [-+]? ("0" | [1-9] [0-9]{0,15}))?',
      'fractional-number-rule ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]{1,16})? ([eE] [-+]? ("0" | [1-9] [0-9]{0,15}))?',
      'string ::= "\\"" ([^"\\\\\\x7F\\x00-\\x1F] | "\\\\" ["\\\\/bfnrt])* "\\"" | [^"\\\\\\x7F\\x00-\\x1F]',
    ].join("\n");
    assert.equal(tightenSchemaGrammar(generated), [
      'root ::= "{" ws "}"',
      'integer-number-rule ::= ("-"? ([0-9] | [1-9] [0-9]{0,15}))',
      'fractional-number-rule ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]{1,16})? ([eE] [-+]? ("0" | [1-9] [0-9]?))?',
      'string ::= "\\"" ([^"\\\\\\x7F\\x00-\\x1F\\x80-\\xBF] | "\\\\" ["\\\\/bfnrt])* "\\"" | [^"\\\\\\x7F\\x00-\\x1F\\x80-\\xBF]',
    ].join("\n"));
    assert.equal(tightenSchemaGrammar('x ::= "a"\nroot ::= x "\\n\\n\\n\\n" [\\n]*\ny ::= "b"'), 'x ::= "a"\nroot ::= x\ny ::= "b"');
    // Only at the end of a line, and only node-llama-cpp's own integer rule loses its exponent.
    assert.equal(tightenSchemaGrammar('root ::= x "\\n\\n\\n\\n" [\\n]* y'), 'root ::= x "\\n\\n\\n\\n" [\\n]* y');
    const exponent = '([eE] [-+]? ("0" | [1-9] [0-9]{0,15}))?';
    const twoDigits = '([eE] [-+]? ("0" | [1-9] [0-9]?))?';
    assert.equal(tightenSchemaGrammar(`my-integer-number-rule ::= [0-9] ${exponent}`), `my-integer-number-rule ::= [0-9] ${twoDigits}`);
    assert.equal(tightenSchemaGrammar(`integer-number-rule ::= [0-9] ${exponent} ws`), `integer-number-rule ::= [0-9] ${twoDigits} ws`);
  });

  it("wrapGbnf puts text around the value, once or repeated", () => {
    const value = 'root ::= "{" inner "}"\ninner ::= [0-9]';
    assert.equal(wrapGbnf(value, { open: "<a>", close: "</a>", separator: "\n", repeat: false }), 'root ::= "<a>" wrapped-value "</a>"\nwrapped-value ::= "{" inner "}"\ninner ::= [0-9]');
    const repeated = wrapGbnf(value, { open: "[", close: "]", separator: ", ", repeat: true });
    assert.equal(repeated, 'root ::= "[" wrapped-value "]" (", " "[" wrapped-value "]")*\nwrapped-value ::= "{" inner "}"\ninner ::= [0-9]');
    const accepts = gbnfMatcher(repeated);
    for (const [text, ok] of [["[{1}]", true], ["[{1}], [{2}]", true], ["[{1}],[{2}]", false], ["", false]] as const) assert.equal(accepts(text), ok, text);
    assert.throws(() => wrapGbnf('root ::= x\nwrapped-value ::= "a"', { open: "", close: "", separator: "", repeat: false }), { name: "GrammarError", message: "the grammar already has a rule named wrapped-value" });
    assert.equal(wrapGbnf('sub-root ::= "a"\nroot ::= sub-root', { open: "(", close: ")", separator: "", repeat: false }), 'root ::= "(" wrapped-value ")"\nsub-root ::= "a"\nwrapped-value ::= sub-root');
    assert.equal(wrapGbnf('root ::= "a"\nmy-wrapped-value ::= "b"', { open: "(", close: ")", separator: "", repeat: false }).split("\n")[0], 'root ::= "(" wrapped-value ")"');
  });
});

describe("GrammarCache on a stand-in Llama", () => {
  function fakeLlama() {
    const compiled: string[] = [];
    const llama = {
      createGrammarForJsonSchema: async (schema: unknown) => ({ grammar: `root ::= "\\"${(schema as { const: string }).const}\\"" "\\n\\n\\n\\n" [\\n]*` }),
    };
    // What llama.cpp would parse: recorded, and "BROKEN" fails as a parse error does.
    const parse = (_llama: Llama, grammar: string) => {
      compiled.push(grammar);
      if (grammar.includes("BROKEN")) throw new Error("parse error at 3");
      return { grammar } as unknown as LlamaGrammar;
    };
    return { llama: llama as unknown as Llama, compiled, parse };
  }

  it("compiles each kind of spec into the GBNF llama.cpp gets", async () => {
    const { llama, compiled, parse } = fakeLlama();
    const cache = new GrammarCache(llama, 64, parse);
    assert.equal((await cache.prepare({ kind: "json" })).gbnf, JSON_GBNF);
    assert.equal((await cache.prepare({ kind: "choice", choices: ["yes", 'n"o'] })).gbnf, 'root ::= "yes" | "n\\"o"');
    assert.equal((await cache.prepare({ kind: "gbnf", grammar: 'root ::= "x"' })).gbnf, 'root ::= "x"');
    assert.equal((await cache.prepare({ kind: "regex", regex: "a+" })).gbnf, 'root ::= "a"+');
    assert.equal((await cache.prepare({ kind: "json_schema", schema: { type: "integer", minimum: 1, maximum: 2 } })).gbnf, "root ::= nimble-rule-0\nnimble-rule-0 ::= ([1-2])");
    const wrapped = await cache.prepare({ kind: "wrapped_json", schema: { type: "integer", minimum: 1, maximum: 2 }, open: "<", close: ">", separator: "", repeat: false } as never);
    assert.equal(wrapped.gbnf, 'root ::= "<" wrapped-value ">"\nwrapped-value ::= nimble-rule-0\nnimble-rule-0 ::= ([1-2])');
    assert.equal(compiled.length, 6);
  });

  it("caches by spec, most recently used kept, failures forgotten", async () => {
    const { llama, compiled, parse } = fakeLlama();
    const cache = new GrammarCache(llama, 2, parse);
    const a = { kind: "gbnf", grammar: 'root ::= "a"' } as const;
    const b = { kind: "gbnf", grammar: 'root ::= "b"' } as const;
    const c = { kind: "gbnf", grammar: 'root ::= "c"' } as const;
    const first = cache.prepare(a);
    assert.equal(cache.prepare({ ...a }), first, "the same spec: the same compilation");
    await cache.prepare(b);
    await cache.prepare(a); // a is now the most recent
    await cache.prepare(c); // evicts b
    assert.equal(compiled.length, 3);
    await cache.prepare(a);
    assert.equal(compiled.length, 3, "a was kept");
    await cache.prepare(b);
    assert.equal(compiled.length, 4, "b was evicted");
    const broken = { kind: "gbnf", grammar: "root ::= BROKEN" } as const;
    await assert.rejects(cache.prepare(broken), { name: "GrammarError", message: "the grammar cannot be compiled: parse error at 3" });
    await assert.rejects(cache.prepare(broken), GrammarError);
    assert.equal(compiled.length, 6, "a failed compilation is not cached");
    await assert.rejects(cache.prepare({ kind: "choice", choices: ["BROKEN"] }), { message: "the constraint cannot be compiled: parse error at 3" });
    await assert.rejects(cache.prepare({ kind: "regex", regex: "(a" }), { name: "GrammarError", message: "missing ) (at position 3 of the regex)" });
  });
});
