/**
 * HTML extraction without a DOM: one linear scan over tags and text. Keeps the main content (the
 * `<main>`/`role="main"` element, else `<article>`s, else `<body>`), drops scripts, styles,
 * templates, forms, navigation, page headers and footers, asides and hidden elements, and turns
 * h1–h6 into heading paths. The output is plain text (entities decoded, no markup), so nothing in
 * it can run. Work is linear in the input and the element stack is bounded.
 */
import type { ExtractedDocument } from "../types.js";
import { SectionBuilder } from "./sections.js";

/** Elements whose content is raw text up to their end tag (never parsed as markup). */
const RAW_TEXT = new Set(["script", "style", "textarea", "title", "noscript", "xmp", "iframe", "noembed", "noframes", "template", "plaintext"]);
/** Elements dropped with everything inside them. */
const DROPPED = new Set(["script", "style", "noscript", "template", "iframe", "noembed", "noframes", "object", "embed", "svg", "math", "canvas", "nav", "footer", "aside", "form", "button", "select", "textarea", "dialog", "menu", "head", "xmp", "plaintext"]);
const VOID = new Set(["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"]);
/** Elements that end a paragraph (text on either side goes into separate blocks). */
const BLOCK = new Set(["p", "div", "section", "article", "main", "header", "blockquote", "pre", "ul", "ol", "dl", "table", "thead", "tbody", "tfoot", "figure", "figcaption", "address", "details", "summary", "fieldset", "hr", "body", "html", "center", "h1", "h2", "h3", "h4", "h5", "h6"]);
/** Elements that end a line inside a block. */
const LINE = new Set(["br", "li", "tr", "dt", "dd", "caption", "option"]);
const MAX_DEPTH = 512;

const NAMED: Record<string, string> = {
  amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0", copy: "©", reg: "®", trade: "™", hellip: "…",
  mdash: "—", ndash: "–", lsquo: "‘", rsquo: "’", ldquo: "“", rdquo: "”", laquo: "«", raquo: "»", bull: "•", middot: "·",
  deg: "°", euro: "€", pound: "£", yen: "¥", cent: "¢", sect: "§", para: "¶", times: "×", divide: "÷", shy: "\u00ad",
  eacute: "é", egrave: "è", agrave: "à", aacute: "á", ccedil: "ç", uuml: "ü", ouml: "ö", auml: "ä", szlig: "ß", ntilde: "ñ",
};

export function decodeEntities(text: string): string {
  return text.replace(/&(#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z][a-zA-Z0-9]{1,31});?/g, (whole, body: string) => {
    if (body[0] === "#") {
      const code = body[1] === "x" || body[1] === "X" ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : "\ufffd";
    }
    return NAMED[body] ?? NAMED[body.toLowerCase()] ?? whole;
  });
}

interface Open {
  name: string;
  dropped: boolean;
  main: boolean;
}

const ATTR = /([^\s"'=<>`/]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;

function attributes(source: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const m of source.matchAll(ATTR)) map.set(m[1]!.toLowerCase(), m[2] ?? m[3] ?? m[4] ?? "");
  return map;
}

/** What counts as the main content: `<main>` or role=main, else articles, else the whole body. */
function mainScope(html: string): "main" | "article" | "body" {
  if (/<main[\s>]/i.test(html) || /<[a-z][^<>]*\srole\s*=\s*["']?main\b/i.test(html)) return "main";
  if (/<article[\s>]/i.test(html)) return "article";
  return "body";
}

export function extractHtml(html: string, maxChars: number): ExtractedDocument {
  const out = new SectionBuilder(maxChars);
  const scope = mainScope(html);
  const stack: Open[] = [];
  let dropped = 0; // open dropped elements
  let inMain = 0; // open main-scope elements
  let pre = 0;
  let title: string | undefined;
  let firstH1: string | undefined;
  // Text of the current block, as parts (appending to one string and asking for its last
  // character would flatten it each time: quadratic on a long block).
  let block: string[] = [];
  let blockEnd = ""; // last character of the block, "" when empty
  let heading: { level: number; text: string } | undefined;

  const visible = () => dropped === 0 && (scope === "body" || inMain > 0);
  const endBlock = () => {
    if (heading) return;
    const joined = block.join("");
    if (joined.trim()) out.paragraph(joined);
    block = [];
    blockEnd = "";
  };
  const text = (raw: string) => {
    if (!visible()) return;
    const t = pre > 0 ? decodeEntities(raw) : decodeEntities(raw).replace(/[ \t\r\n\f]+/g, " ");
    if (heading) heading.text += t;
    else if (t) {
      block.push(t);
      blockEnd = t[t.length - 1]!;
    }
  };
  const newline = () => {
    if (!visible()) return;
    if (heading) heading.text += " ";
    else if (blockEnd !== "" && blockEnd !== "\n") {
      block.push("\n");
      blockEnd = "\n";
    }
  };
  const open = (name: string, attrs: string, selfClosing: boolean) => {
    const a = attrs ? attributes(attrs) : undefined;
    const hidden = a !== undefined && (a.has("hidden") || a.get("aria-hidden") === "true" || /display\s*:\s*none/i.test(a.get("style") ?? ""));
    // A page header is boilerplate; a header inside the main content is part of it.
    const drop = DROPPED.has(name) || hidden || (name === "header" && inMain === 0 && scope !== "body");
    const main = scope === "main" ? name === "main" || a?.get("role") === "main" : scope === "article" && name === "article";
    if (BLOCK.has(name) || LINE.has(name)) (BLOCK.has(name) ? endBlock : newline)();
    if (VOID.has(name) || selfClosing) {
      if (name === "img" && a?.get("alt") && visible()) text(` ${a.get("alt")} `);
      return;
    }
    if (/^h[1-6]$/.test(name) && visible() && !heading) heading = { level: Number(name[1]), text: "" };
    if (name === "li" && visible()) text("- ");
    if ((name === "td" || name === "th") && visible() && blockEnd !== "" && blockEnd !== "\n") text(" | ");
    if (stack.length >= MAX_DEPTH) return;
    stack.push({ name, dropped: drop, main });
    if (drop) dropped++;
    if (main) inMain++;
    if (name === "pre") pre++;
  };
  const close = (name: string) => {
    let at = -1;
    for (let i = stack.length - 1; i >= Math.max(0, stack.length - MAX_DEPTH); i--) {
      if (stack[i]!.name === name) {
        at = i;
        break;
      }
    }
    if (at < 0) {
      if (name === "br" || name === "p") newline();
      return;
    }
    while (stack.length > at) {
      const el = stack.pop()!;
      if (el.dropped) dropped--;
      if (el.main) inMain--;
      if (el.name === "pre") pre--;
      if (heading && /^h[1-6]$/.test(el.name)) {
        const h = heading;
        heading = undefined;
        if (h.text.trim()) {
          endBlock();
          if (h.level === 1 && firstH1 === undefined) firstH1 = h.text.trim();
          out.heading(h.level, h.text);
        }
      }
      if (BLOCK.has(el.name)) endBlock();
      else if (LINE.has(el.name)) newline();
    }
  };

  let i = 0;
  const n = html.length;
  while (i < n) {
    const lt = html.indexOf("<", i);
    if (lt < 0) {
      text(html.slice(i));
      break;
    }
    if (lt > i) text(html.slice(i, lt));
    i = lt;
    if (html.startsWith("<!--", i)) {
      const end = html.indexOf("-->", i + 4);
      i = end < 0 ? n : end + 3;
      continue;
    }
    if (html[i + 1] === "!" || html[i + 1] === "?") {
      const end = html.indexOf(">", i);
      i = end < 0 ? n : end + 1;
      continue;
    }
    const m = /^<(\/?)([a-zA-Z][a-zA-Z0-9:-]*)/.exec(html.slice(i, i + 64));
    if (!m) {
      text("<");
      i++;
      continue;
    }
    // Find the tag's end, skipping quoted attribute values.
    let j = i + m[0].length;
    let quote = "";
    for (; j < n; j++) {
      const c = html[j]!;
      if (quote) {
        if (c === quote) quote = "";
      } else if (c === '"' || c === "'") quote = c;
      else if (c === ">") break;
    }
    const body = html.slice(i + m[0].length, j);
    i = j + 1;
    const name = m[2]!.toLowerCase();
    if (m[1]) {
      close(name);
      continue;
    }
    const selfClosing = body.trimEnd().endsWith("/");
    if (RAW_TEXT.has(name) && !selfClosing) {
      const endTag = new RegExp(`</${name}[\\s/>]`, "ig");
      endTag.lastIndex = i;
      const end = name === "plaintext" ? null : endTag.exec(html);
      const content = html.slice(i, end ? end.index : n);
      if (name === "title" && title === undefined) title = decodeEntities(content).replace(/\s+/g, " ").trim() || undefined;
      else if (!DROPPED.has(name)) {
        open(name, body, false);
        text(content);
        close(name);
      }
      if (!end) break;
      i = html.indexOf(">", end.index) + 1 || n;
      continue;
    }
    open(name, body, selfClosing);
  }
  if (heading) {
    const h: { level: number; text: string } = heading;
    heading = undefined;
    out.heading(h.level, h.text);
  }
  endBlock();
  return out.build({ ...(title ?? firstH1 ? { title: title ?? firstH1 } : {}) });
}
