/**
 * Grammars for constrained generation, compiled once and cached: JSON, JSON schemas, GBNF, and
 * choices among fixed strings. Sampling then only picks tokens the grammar allows, so the output
 * parses whatever the model's weights (random ones included).
 */
import { LlamaGrammar, LlamaLogLevel, type Llama } from "node-llama-cpp";
import { loadAddon } from "./addon.js";
import { llamaLogger } from "./llama-log.js";
import { regexToGbnf } from "./regex-gbnf.js";
import { applyExtendedRules, extractExtendedRules } from "./schema-gbnf.js";
import { GrammarError, type GrammarSpec, type PreparedGrammar } from "./types.js";

export interface CompiledGrammar extends PreparedGrammar {
  readonly grammar: LlamaGrammar;
}

/** A GBNF string literal. */
export function gbnfLiteral(text: string): string {
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, "\\n").replace(/\r/g, "\\r").replace(/\t/g, "\\t")}"`;
}

/**
 * Characters allowed unescaped in JSON strings. llama.cpp's grammar engine reads a lone UTF-8
 * continuation byte (0x80–0xBF, which byte-level models can emit) as the code point of the same
 * value, so those code points are excluded: every string is then valid UTF-8 and its length is
 * what the schema meant. U+0080–U+00BF stay expressible as \u escapes.
 */
const STRING_CHAR_CLASS = String.raw`[^"\\\x7F\x00-\x1F]`;
const UTF8_SAFE_STRING_CHAR_CLASS = String.raw`[^"\\\x7F\x00-\x1F\x80-\xBF]`;

/** Any JSON object (response_format json_object), with exponents bounded so every number parses finite. */
export const JSON_GBNF = String.raw`root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws
object ::= "{" ws ( string ":" ws value ("," ws string ":" ws value)* )? "}" ws
array  ::= "[" ws ( value ("," ws value)* )? "]" ws
string ::= "\"" ( [^"\\\x7F\x00-\x1F\x80-\xBF] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}) )* "\"" ws
number ::= "-"? ("0" | [1-9] [0-9]{0,15}) ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})? ws
ws     ::= | " " | "\n" [ \t]{0,20}`;

/**
 * Adjusts node-llama-cpp's JSON-schema grammar so that every output is valid JSON that parses
 * to what the schema means: no trailing newlines (node-llama-cpp's own stop markers; without
 * them the only way on after the closing brace is the end of generation), integers without an
 * exponent, and exponents of at most two digits (1E9999 parses to Infinity).
 */
export function tightenSchemaGrammar(gbnf: string): string {
  return gbnf
    .replace(/ "\\n\\n\\n\\n" \[\\n\]\*$/m, "")
    .replace(/^(integer-number-rule ::= .*?) \(\[eE\] \[-\+\]\? \("0" \| \[1-9\] \[0-9\]\{0,15\}\)\)\?$/m, "$1")
    .replace(/\[eE\] \[-\+\]\? \("0" \| \[1-9\] \[0-9\]\{0,15\}\)/g, '[eE] [-+]? ("0" | [1-9] [0-9]?)')
    .replaceAll(STRING_CHAR_CLASS, UTF8_SAFE_STRING_CHAR_CLASS);
}

/**
 * Compiles GBNF with llama.cpp. llama.cpp prints why a grammar does not parse on stderr, and
 * node-llama-cpp may print llama.cpp's log lines on stdout (once its logger is lost to a second
 * Llama instance); with the native addon both are captured while the grammar compiles: the reason
 * becomes the error's message ("Undefined rule identifier 'x'") and the lines go to the debug log.
 * What was written meanwhile by a grammar that compiled is written back. Without the addon
 * llama.cpp's lines stay on the terminal.
 */
export function parseGbnf(llama: Llama, gbnf: string): LlamaGrammar {
  const addon = loadAddon();
  const capture = typeof addon === "string" || !addon.outputCaptureStart?.() ? undefined : addon;
  let grammar: LlamaGrammar | undefined;
  let failure: unknown;
  try {
    grammar = new LlamaGrammar(llama, { grammar: gbnf });
  } catch (err) {
    failure = err;
  }
  const [out, err] = capture?.outputCaptureEnd?.() ?? ["", ""];
  if (grammar) {
    if (out.length > 0) process.stdout.write(out);
    if (err.length > 0) process.stderr.write(err);
    return grammar;
  }
  for (const text of [out, err]) if (text.length > 0) llamaLogger(LlamaLogLevel.debug, text);
  const reason = /error parsing grammar: (.*)/.exec(err)?.[1]?.trim() ?? /^(unsupported grammar.*)$/m.exec(`${out}\n${err}`)?.[1]?.trim();
  throw reason ? new Error(`${(failure as Error).message}: ${reason}`) : failure;
}

export class GrammarCache {
  private readonly cache = new Map<string, Promise<CompiledGrammar>>();

  constructor(
    private readonly llama: Llama,
    private readonly capacity = 64,
    /** Turns GBNF into llama.cpp's grammar (a stand-in in the unit tests). */
    private readonly parse: (llama: Llama, gbnf: string) => LlamaGrammar = parseGbnf,
  ) {}

  prepare(spec: GrammarSpec): Promise<CompiledGrammar> {
    const key = JSON.stringify(spec);
    let entry = this.cache.get(key);
    if (entry) {
      // Most recently used last.
      this.cache.delete(key);
    } else {
      entry = this.compile(spec);
      entry.catch(() => this.cache.delete(key));
    }
    this.cache.set(key, entry);
    while (this.cache.size > this.capacity) this.cache.delete(this.cache.keys().next().value!);
    return entry;
  }

  private async compile(spec: GrammarSpec): Promise<CompiledGrammar> {
    // A regex that cannot be translated says why; the translation itself is then a plain grammar.
    if (spec.kind === "regex") spec = { kind: "gbnf", grammar: regexToGbnf(spec.regex) };
    let gbnf: string;
    try {
      switch (spec.kind) {
        case "json":
          gbnf = JSON_GBNF;
          break;
        case "json_schema":
          gbnf = await this.schemaGbnf(spec.schema);
          break;
        case "wrapped_json":
          gbnf = wrapGbnf(await this.schemaGbnf(spec.schema), spec);
          break;
        case "choice":
          gbnf = `root ::= ${spec.choices.map(gbnfLiteral).join(" | ")}`;
          break;
        case "gbnf":
          gbnf = spec.grammar;
          break;
      }
      const grammar = this.parse(this.llama, gbnf);
      return { grammar, gbnf: grammar.grammar };
    } catch (err) {
      throw new GrammarError(`${spec.kind === "gbnf" ? "the grammar" : "the constraint"} cannot be compiled: ${(err as Error).message}`);
    }
  }

  private async schemaGbnf(schema: Record<string, unknown>): Promise<string> {
    // Integer bounds, patterns and some formats: rules of our own in place of placeholders.
    const extended = extractExtendedRules(schema);
    const generated = await this.llama.createGrammarForJsonSchema(extended.schema as never);
    return applyExtendedRules(tightenSchemaGrammar(generated.grammar), extended.rules);
  }
}

/**
 * Puts fixed text around a JSON grammar's value: `open value close`, and with `repeat`, more of
 * them after `separator`. The value's root rule is renamed so the wrapper becomes the root
 * (node-llama-cpp's schema grammars never refer back to their root).
 */
export function wrapGbnf(gbnf: string, wrap: { open: string; close: string; separator: string; repeat: boolean }): string {
  const VALUE = "wrapped-value";
  if (new RegExp(`^${VALUE} ::=`, "m").test(gbnf)) throw new GrammarError(`the grammar already has a rule named ${VALUE}`);
  const renamed = gbnf.replace(/^root ::=/m, `${VALUE} ::=`);
  const one = `${gbnfLiteral(wrap.open)} ${VALUE} ${gbnfLiteral(wrap.close)}`;
  const root = wrap.repeat ? `root ::= ${one} (${gbnfLiteral(wrap.separator)} ${one})*` : `root ::= ${one}`;
  return `${root}\n${renamed}`;
}
