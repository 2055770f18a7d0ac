/**
 * Prompt-injection and jailbreak rules: a maintained phrase set (instruction overrides, persona
 * jailbreaks, prompt extraction, fake role markers) and YARA-like rules for code, SQL, template and
 * XSS injection in the spirit of NeMo's injection_detection. Every regex is free of nested
 * quantifiers and bounded, so a megabyte of adversarial text stays linear.
 */
import type { Span } from "./types.js";

export const INJECTION_SETS = ["jailbreak", "code", "sqli", "template", "xss"] as const;
export type InjectionSet = (typeof INJECTION_SETS)[number];

type Found = Omit<Span, "item">;

interface Rule {
  name: string;
  set: InjectionSet;
  regex: RegExp;
}

const sp = String.raw`[\s,]{1,8}`;

/** The jailbreak phrase set (English; a maintained list: add phrases here with a labelled example in bench/data/guardrails). */
const JAILBREAK: [string, string][] = [
  ["ignore_instructions", String.raw`\b(?:ignore|disregard|forget|skip|override|bypass)${sp}(?:all${sp}|any${sp}|every${sp})?(?:of${sp})?(?:the${sp}|your${sp}|my${sp}|these${sp}|those${sp})?(?:previous|prior|above|earlier|preceding|initial|original|system|old|existing)${sp}(?:\w{1,20}${sp})?(?:instructions?|prompts?|rules?|directions?|guidelines?|context|messages?|constraints?)`],
  ["new_instructions", String.raw`\b(?:new|updated|real|actual|true)${sp}(?:system${sp})?(?:instructions?|rules?|directives?)[\s,]{0,8}:`],
  ["persona_override", String.raw`\byou${sp}are${sp}(?:now${sp})?(?:DAN|STAN|DUDE|AIM|an?${sp}unrestricted|an?${sp}unfiltered|free${sp}from|no${sp}longer${sp}(?:an?${sp})?(?:AI|assistant|bound))`],
  ["do_anything_now", String.raw`\bdo${sp}anything${sp}now\b`],
  ["developer_mode", String.raw`\b(?:developer|god|jailbreak|jailbroken|unrestricted|evil)${sp}mode\b`],
  ["no_restrictions", String.raw`\b(?:answer|respond|reply|act|operate|behave|talk|speak|write)${sp}(?:\w{1,20}${sp}){0,3}(?:without|with${sp}no|free${sp}of|ignoring)${sp}(?:any${sp}|all${sp}|your${sp})?(?:restrictions|filters|limitations|censorship|safety${sp}(?:rules|guidelines|filters)|content${sp}polic(?:y|ies)|ethical${sp}(?:guidelines|constraints))\b`],
  ["pretend", String.raw`\b(?:pretend|imagine|act${sp}as${sp}if)${sp}(?:that${sp})?you${sp}(?:are|have|were)${sp}(?:not${sp}bound|no${sp}(?:rules|restrictions|filters|limits)|an?${sp}(?:AI|model)${sp}without)`],
  ["prompt_extraction", String.raw`\b(?:reveal|print|show|repeat|output|display|leak|tell${sp}me|what${sp}(?:is|are))${sp}(?:me${sp})?(?:(?:your|the)${sp}(?:full${sp}|entire${sp}|original${sp}|hidden${sp}|initial${sp}|secret${sp})?(?:system${sp}prompt|system${sp}message|initial${sp}prompt|hidden${sp}prompt|hidden${sp}instructions|secret${sp}instructions)|your${sp}(?:full${sp}|entire${sp}|original${sp}|hidden${sp}|initial${sp}|secret${sp})?(?:instructions|prompt))`],
  ["role_markers", String.raw`(?:<\|?(?:im_start|im_end|system|endoftext|eot_id|start_header_id)\|?>|\[/?INST\]|<<SYS>>|^\s{0,8}(?:###${sp}?)?system${sp}?:)`],
  ["stop_being", String.raw`\b(?:stop|quit)${sp}being${sp}(?:an?${sp})?(?:AI|assistant|helpful${sp}assistant|language${sp}model)`],
  ["from_now_on", String.raw`\bfrom${sp}now${sp}on${sp}(?:you${sp}(?:will|must|are|shall)|respond|answer|act)\b[\s\S]{0,80}?\b(?:no${sp}(?:rules|restrictions|filters)|without${sp}(?:rules|restrictions|filters|censorship)|unfiltered|uncensored|anything)`],
];

const RULES: Rule[] = [
  ...JAILBREAK.map(([name, src]): Rule => ({ name, set: "jailbreak", regex: new RegExp(src, "gim") })),
  // Code: shells and network imports, eval/exec, destructive commands, pipes into a shell.
  { name: "import_shells", set: "code", regex: /\b(?:import\s{1,8}(?:os|subprocess|shutil|pty)\b|from\s{1,8}(?:os|subprocess|shutil)\s{1,8}import\b|require\(\s{0,4}['"]child_process['"]\s{0,4}\))/g },
  { name: "dynamic_exec", set: "code", regex: /\b(?:__import__|eval|exec|os\.system|os\.popen|subprocess\.(?:run|call|Popen|check_output)|child_process\.exec(?:Sync)?)\s{0,4}\(/g },
  // The fork bomb `:(){ :|:& };:` stands outside the `\b` group: `:` is not a word character.
  { name: "destructive_shell", set: "code", regex: /\b(?:rm\s{1,8}-[rRf]{1,3}\s{1,8}\/|mkfs\.|dd\s{1,8}if=\/dev\/|chmod\s{1,8}-R\s{1,8}777\s{1,8}\/)|:\s{0,2}\(\s{0,2}\)\s{0,2}\{\s{0,2}:\s{0,2}\|\s{0,2}:\s{0,2}&\s{0,2}\}\s{0,2};\s{0,2}:/g },
  { name: "pipe_to_shell", set: "code", regex: /\b(?:curl|wget)\s[^|\n]{1,200}\|\s{0,4}(?:ba|z)?sh\b/g },
  // SQL: a statement verb together with a comment, a tautology, stacked queries or catalog access.
  { name: "sql_tautology", set: "sqli", regex: /['"]\s{0,4}(?:or|and)\s{1,4}['"]?\w{1,10}['"]?\s{0,4}=\s{0,4}['"]?\w{1,10}/gi },
  { name: "sql_stacked", set: "sqli", regex: /;\s{0,4}(?:drop|delete|truncate|alter|insert|update|exec|shutdown)\s{1,8}(?:table|from|into|database|\w{1,64})/gi },
  { name: "sql_union", set: "sqli", regex: /\bunion(?:\s{1,8}all)?\s{1,8}select\b/gi },
  { name: "sql_comment_terminator", set: "sqli", regex: /['"]\s{0,4}(?:;\s{0,4})?(?:--|#|\/\*)/g },
  { name: "sql_catalog", set: "sqli", regex: /\b(?:information_schema|pg_catalog|pg_sleep|sqlite_master|xp_cmdshell|sleep\(\s{0,4}\d{1,4}\s{0,4}\)|waitfor\s{1,4}delay|char\(\d{1,3}\)\s{0,2}\+\s{0,2}char\()/gi },
  // XSS and markdown exfiltration.
  { name: "script_tag", set: "xss", regex: /<\s{0,4}script\b/gi },
  { name: "event_handler", set: "xss", regex: /<[a-z][a-z0-9]{0,15}\b[^<>]{0,200}?\son(?:error|load|click|mouseover|focus|blur|submit)\s{0,4}=/gi },
  { name: "javascript_url", set: "xss", regex: /(?:href|src|action)\s{0,4}=\s{0,4}['"]?\s{0,4}javascript:|\]\(\s{0,4}javascript:/gi },
  { name: "markdown_image_exfiltration", set: "xss", regex: /!\[[^\][\n]{0,200}\]\(\s{0,4}https?:\/\/[^)\s?]{1,300}\?[^)\s]{1,500}\)/gi },
  { name: "iframe_object", set: "xss", regex: /<\s{0,4}(?:iframe|object|embed|svg\s[^>]{0,200}onload)\b/gi },
];

/** Template injection ({{ … }} or {% … %} within 500 characters), found with indexOf: linear on any input. */
function templates(text: string, out: (Found & { set: InjectionSet })[]): void {
  for (const [open, close, name] of [["{{", "}}", "jinja_expression"], ["{%", "%}", "jinja_statement"], ["${", "}", "template_literal"]] as const) {
    let from = 0;
    for (;;) {
      const o = text.indexOf(open, from);
      if (o === -1) break;
      const c = text.indexOf(close, o + open.length);
      if (c === -1) break; // no closer after o: none after any later opener either
      if (c - o <= 500 && (name !== "template_literal" || /[\w.()[\]]/.test(text.slice(o + 2, c)))) {
        out.push({ start: o, end: c + close.length, label: name, set: "template" });
        from = c + close.length;
      } else {
        from = o + open.length;
      }
    }
  }
}

/** SQL rules need an SQL verb somewhere in the text (NeMo's sqli rule: verb AND a marker). */
const SQL_VERB = /\b(?:select|insert|update|delete|drop|union|alter|create|exec|truncate|where)\b/i;

/** Every injection span of the chosen sets. */
export function detectInjection(text: string, sets: readonly InjectionSet[]): (Found & { set: InjectionSet })[] {
  const wanted = new Set(sets);
  const out: (Found & { set: InjectionSet })[] = [];
  const sql = wanted.has("sqli") && SQL_VERB.test(text);
  for (const rule of RULES) {
    if (!wanted.has(rule.set) || (rule.set === "sqli" && !sql && rule.name !== "sql_tautology")) continue;
    rule.regex.lastIndex = 0;
    for (let m = rule.regex.exec(text); m !== null; m = rule.regex.exec(text)) {
      if (m[0].length === 0) { rule.regex.lastIndex++; continue; }
      out.push({ start: m.index, end: m.index + m[0].length, label: rule.name, set: rule.set });
    }
  }
  if (wanted.has("template")) templates(text, out);
  return out;
}

/** The rule names, by set (for docs and the configs endpoint). */
export function injectionRuleNames(): Record<InjectionSet, string[]> {
  const names = Object.fromEntries(INJECTION_SETS.map((s) => [s, [] as string[]])) as Record<InjectionSet, string[]>;
  for (const r of RULES) names[r.set].push(r.name);
  names.template.push("jinja_expression", "jinja_statement", "template_literal");
  return names;
}
