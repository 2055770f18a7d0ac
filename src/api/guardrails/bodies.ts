/**
 * The texts of a chat completions, completions or Anthropic messages body, each with a setter, so
 * input rails can check every message and write the masked text back before the handler runs.
 * Only the shapes the endpoints accept are read (strings and text parts); anything else is left to
 * the handler's validation.
 */
export type Endpoint = "chat" | "completions" | "messages";

export interface TextSlot {
  role: string;
  text: string;
  set(text: string): void;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** A string field, or an array of {type:"text", text} parts. */
function contentSlots(holder: Obj, key: string, role: string, out: TextSlot[]): void {
  const content = holder[key];
  if (typeof content === "string") {
    out.push({ role, text: content, set: (t) => { holder[key] = t; } });
  } else if (Array.isArray(content)) {
    for (const part of content) {
      if (isObj(part) && typeof part.text === "string") out.push({ role, text: part.text, set: (t) => { part.text = t; } });
    }
  }
}

export function bodySlots(endpoint: Endpoint, body: unknown): TextSlot[] {
  const out: TextSlot[] = [];
  if (!isObj(body)) return out;
  if (endpoint === "completions") {
    const prompt = body.prompt;
    if (typeof prompt === "string") out.push({ role: "user", text: prompt, set: (t) => { body.prompt = t; } });
    else if (Array.isArray(prompt)) prompt.forEach((p, i) => { if (typeof p === "string") out.push({ role: "user", text: p, set: (t) => { prompt[i] = t; } }); });
    return out;
  }
  if (endpoint === "messages") contentSlots(body, "system", "system", out);
  if (Array.isArray(body.messages)) {
    for (const m of body.messages) {
      if (!isObj(m)) continue;
      const role = typeof m.role === "string" ? (m.role === "developer" ? "system" : m.role) : "user";
      contentSlots(m, "content", role, out);
    }
  }
  return out;
}

/** The JSON schema the request asks the output to follow (json_object: "json"). */
export function requestedSchema(body: unknown): Record<string, unknown> | "json" | undefined {
  if (!isObj(body)) return undefined;
  const rf = body.response_format;
  if (isObj(rf)) {
    if (rf.type === "json_object") return "json";
    if (rf.type === "json_schema" && isObj(rf.json_schema)) return isObj(rf.json_schema.schema) ? rf.json_schema.schema : "json";
  }
  const gj = body.guided_json;
  if (isObj(gj)) return gj;
  if (typeof gj === "string") {
    try {
      const parsed: unknown = JSON.parse(gj);
      if (isObj(parsed)) return parsed;
    } catch { /* the handler reports it */ }
  }
  return undefined;
}
