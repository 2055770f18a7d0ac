/**
 * Conversations kept in the browser (localStorage): list, save, delete, and export/import as a
 * JSON file. Imports are validated field by field; anything else is refused with a message.
 */
export interface Citation {
  index: number;
  vector_store_id?: string;
  file_id?: string;
  filename?: string;
  text: string;
  page?: number | null;
  heading_path?: string[] | null;
  score?: number;
}

export interface ActivatedRail {
  name: string;
  type: string;
  action: string;
  detail?: unknown;
}

export interface ChatMessage {
  role: "user" | "assistant";
  content: string;
  /** Client-measured: time to first token and generation speed. */
  stats?: { ttftMs?: number; tokensPerSecond?: number; completionTokens?: number; finishReason?: string };
  citations?: Citation[];
  rails?: ActivatedRail[];
  error?: string;
}

export interface ChatSettings {
  model: string;
  system: string;
  temperature: string;
  topP: string;
  maxTokens: string;
  seed: string;
  jsonMode: boolean;
  schema: string;
  storeIds: string[];
  guardrailConfig: string;
}

export interface Conversation {
  id: string;
  title: string;
  updated: number;
  messages: ChatMessage[];
  settings: ChatSettings;
}

export const DEFAULT_SETTINGS: ChatSettings = { model: "", system: "", temperature: "", topP: "", maxTokens: "", seed: "", jsonMode: false, schema: "", storeIds: [], guardrailConfig: "" };

const STORAGE = "nimble.conversations";

export function newConversation(settings: ChatSettings = DEFAULT_SETTINGS): Conversation {
  return { id: `c-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`, title: "New conversation", updated: Date.now(), messages: [], settings: { ...settings } };
}

function isConversation(v: unknown): v is Conversation {
  const c = v as Conversation;
  return (
    typeof c === "object" && c !== null && typeof c.id === "string" && typeof c.title === "string" && Array.isArray(c.messages) &&
    c.messages.every((m) => typeof m === "object" && m !== null && (m.role === "user" || m.role === "assistant") && typeof m.content === "string")
  );
}

function normalise(c: Conversation): Conversation {
  return { ...c, updated: typeof c.updated === "number" ? c.updated : Date.now(), settings: { ...DEFAULT_SETTINGS, ...(typeof c.settings === "object" ? c.settings : {}) } };
}

export function loadConversations(): Conversation[] {
  try {
    const raw = JSON.parse(localStorage.getItem(STORAGE) ?? "[]") as unknown;
    return Array.isArray(raw) ? raw.filter(isConversation).map(normalise) : [];
  } catch {
    return [];
  }
}

export function saveConversations(list: Conversation[]): void {
  try {
    localStorage.setItem(STORAGE, JSON.stringify(list));
  } catch {
    // Quota exceeded or storage off: the conversations live until the page closes.
  }
}

export function exportConversations(list: Conversation[]): Blob {
  return new Blob([JSON.stringify({ nimble_playground: 1, conversations: list }, null, 2)], { type: "application/json" });
}

/** Conversations from an exported file; throws with a readable message when it is not one. */
export function parseImport(text: string): Conversation[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new Error("The file is not JSON.");
  }
  const list = Array.isArray(data) ? data : (data as { conversations?: unknown })?.conversations;
  if (!Array.isArray(list)) throw new Error("The file holds no conversations (expected a playground export).");
  const good = list.filter(isConversation).map(normalise);
  if (good.length === 0) throw new Error("None of the file's conversations could be read.");
  return good;
}
