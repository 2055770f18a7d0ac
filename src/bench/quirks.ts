/**
 * Works around llama-server rejecting random-weight models' output: its chat-format parser runs on
 * every streamed chunk, even for /v1/completions, and ends the stream with a 500 "output that does not
 * match the expected Content-only format" as soon as the generated text is not valid UTF-8. Models
 * from src/models/generate.ts (byte-level BPE, token id = byte value for ids 0..255) emit lone bytes
 * 0x80..0xFF now and then, so most 128-token requests would fail. For such vocabularies this returns
 * a `logit_bias` that bans those 128 byte tokens; with ignore_eos and max_tokens the amount of work
 * per request is unchanged (only which tokens are picked).
 */

/** `{ logit_bias }` for llama-server when its vocabulary maps ids 0x80..0xFF to single bytes, else undefined. */
export async function llamaInvalidUtf8Ban(url: string, apiKey?: string, timeoutMs = 10_000): Promise<Record<string, unknown> | undefined> {
  try {
    // "é" is bytes C3 A9, "ÿ" is C3 BF: in a byte-level vocabulary without merges for them they are tokens 195, 169, 195, 191.
    const res = await fetch(`${url}/tokenize`, {
      method: "POST", headers: { "content-type": "application/json", ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
      body: JSON.stringify({ content: "éÿ", with_pieces: true }), signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { tokens?: { id?: number; piece?: unknown }[] };
    const toks = body.tokens ?? [];
    const bytes = [0xc3, 0xa9, 0xc3, 0xbf];
    const byteLevel = toks.length === 4 && toks.every((t, i) => t.id === bytes[i] && Array.isArray(t.piece) && t.piece.length === 1 && t.piece[0] === bytes[i]);
    if (!byteLevel) return undefined;
    const bias: [number, boolean][] = [];
    for (let id = 0x80; id <= 0xff; id++) bias.push([id, false]);
    return { logit_bias: bias };
  } catch {
    return undefined;
  }
}
