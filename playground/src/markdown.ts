/**
 * Markdown for answers: marked (GFM) with raw HTML escaped, links limited to http(s) and opened
 * in a new tab, images shown as links (no remote fetches), and code blocks coloured by a tiny
 * language-agnostic highlighter (comments, strings, numbers, keywords).
 */
import { Marked, type Tokens } from "marked";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

const KEYWORDS = new Set(
  ("as async await break case catch class const continue def default del do elif else enum export extends false finally fn for from func function if impl import in interface let " +
    "match mut new nil None null package pass private protected pub public raise return self static struct super switch this throw true True False try type typeof undefined use var void while with yield")
    .split(" "),
);

/** One regex per token class, tried in this order; the first that matches at a position wins. */
const TOKEN = /(\/\/[^\n]*|#[^\n]*|\/\*[\s\S]*?\*\/)|("(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`)|(\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b)|([A-Za-z_][A-Za-z0-9_]*)/g;

/** Code as HTML with <span class="tok-…"> around comments, strings, numbers and keywords. */
export function highlight(code: string, lang = ""): string {
  // '#' starts a comment only in languages that use it.
  const hashComments = /^(py|python|sh|bash|shell|zsh|yaml|yml|toml|rb|ruby|r|perl|dockerfile|make|conf|ini)$/i.test(lang);
  let out = "";
  let last = 0;
  const re = new RegExp(TOKEN.source, "g");
  let m: RegExpExecArray | null;
  while ((m = re.exec(code)) !== null) {
    const [text, comment, string, number, word] = m;
    const at = m.index;
    let cls: string | undefined;
    if (comment !== undefined) cls = comment.startsWith("#") && !hashComments ? undefined : "comment";
    else if (string !== undefined) cls = "string";
    else if (number !== undefined) cls = "number";
    else if (word !== undefined && KEYWORDS.has(word)) cls = "keyword";
    if (!cls) {
      // A '#' that is not a comment: skip only the '#', the rest is scanned again.
      if (comment !== undefined) re.lastIndex = at + 1;
      continue;
    }
    out += escapeHtml(code.slice(last, at)) + `<span class="tok-${cls}">${escapeHtml(text)}</span>`;
    last = at + text.length;
  }
  return out + escapeHtml(code.slice(last));
}

const safeHref = (href: string) => (/^(https?:|mailto:|#)/i.test(href) ? href : undefined);

const marked = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    html({ text }) {
      return escapeHtml(text);
    },
    code({ text, lang }: Tokens.Code) {
      const language = (lang ?? "").split(/\s/)[0] ?? "";
      const label = language ? ` data-lang="${escapeHtml(language)}"` : "";
      return `<pre${label}><code>${highlight(text, language)}</code></pre>\n`;
    },
    link(token: Tokens.Link) {
      const inner = this.parser.parseInline(token.tokens);
      const href = safeHref(token.href);
      return href ? `<a href="${escapeHtml(href)}" target="_blank" rel="noopener noreferrer">${inner}</a>` : inner;
    },
    image({ href, text }: Tokens.Image) {
      const safe = safeHref(href);
      return safe ? `<a href="${escapeHtml(safe)}" target="_blank" rel="noopener noreferrer">[image: ${escapeHtml(text)}]</a>` : escapeHtml(text);
    },
  },
});

export function renderMarkdown(text: string): string {
  return marked.parse(text) as string;
}
