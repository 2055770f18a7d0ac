/** Token logprobs in OpenAI's two shapes: chat's `{content:[{token, logprob, bytes, top_logprobs}]}` and completions' legacy arrays. */
import type { TokenLogprob } from "../../engine/types.js";

const bytes = (text: string) => [...Buffer.from(text, "utf8")];

export function chatLogprobs(entries: TokenLogprob[]) {
  return {
    content: entries.map((e) => ({
      token: e.text,
      logprob: e.logprob,
      bytes: bytes(e.text),
      top_logprobs: e.top.map((t) => ({ token: t.text, logprob: t.logprob, bytes: bytes(t.text) })),
    })),
    refusal: null,
  };
}

/** `textOffset` is where the first entry's text starts in the whole completion. */
export function completionLogprobs(entries: TokenLogprob[], textOffset = 0) {
  const offsets: number[] = [];
  let offset = textOffset;
  for (const e of entries) {
    offsets.push(offset);
    offset += e.text.length;
  }
  return {
    tokens: entries.map((e) => e.text),
    token_logprobs: entries.map((e) => e.logprob),
    top_logprobs: entries.map((e) => Object.fromEntries(e.top.map((t) => [t.text, t.logprob]))),
    text_offset: offsets,
  };
}
