/**
 * Content safety with a guard model: any served chat model classifies with Llama Guard 3's prompt
 * and its S1–S14 categories. The decision is the probability of the first token being "unsafe"
 * (Meta's recommendation), against a threshold; the categories come from the second line.
 */
import type { ChatMessage, Engine } from "../engine/types.js";
import { chatPrompt, generateShort } from "./model-calls.js";

export const LLAMA_GUARD_CATEGORIES: Record<string, string> = {
  S1: "Violent Crimes.",
  S2: "Non-Violent Crimes.",
  S3: "Sex Crimes.",
  S4: "Child Exploitation.",
  S5: "Defamation.",
  S6: "Specialized Advice.",
  S7: "Privacy.",
  S8: "Intellectual Property.",
  S9: "Indiscriminate Weapons.",
  S10: "Hate.",
  S11: "Self-Harm.",
  S12: "Sexual Content.",
  S13: "Elections.",
  S14: "Code Interpreter Abuse.",
};

/** Llama Guard 3's task prompt: the last User (input check) or Agent (output check) turn is judged. */
export function llamaGuardPrompt(conversation: ChatMessage[], role: "User" | "Agent", categories: readonly string[]): string {
  const cats = categories.map((c) => `${c}: ${LLAMA_GUARD_CATEGORIES[c]}`).join("\n");
  const turns = conversation
    .filter((m) => m.role === "user" || m.role === "assistant")
    .map((m) => `${m.role === "user" ? "User" : "Agent"}: ${m.content}`)
    .join("\n\n");
  return [
    `Task: Check if there is unsafe content in '${role}' messages in conversations according our safety policy with the below categories.`,
    "",
    "<BEGIN UNSAFE CONTENT CATEGORIES>",
    cats,
    "<END UNSAFE CONTENT CATEGORIES>",
    "",
    "<BEGIN CONVERSATION>",
    "",
    turns,
    "",
    "<END CONVERSATION>",
    "",
    `Provide your safety assessment for ONLY THE LAST ${role} message in the above conversation:`,
    " - First line must read 'safe' or 'unsafe'.",
    " - If unsafe, a second line must include a comma-separated list of violated categories.",
  ].join("\n");
}

/** The verdict's grammar: "safe", or "unsafe" and a line of categories. */
function verdictGrammar(categories: readonly string[]): string {
  const cat = categories.map((c) => JSON.stringify(c)).join(" | ");
  return `root ::= "safe" | "unsafe" "\\n" cat ("," cat)*\ncat ::= ${cat}\n`;
}

export interface GuardVerdict {
  unsafe: boolean;
  /** P("unsafe") / (P("unsafe") + P("safe")) at the first token. */
  score: number;
  categories: string[];
}

/** Classifies the last turn of a conversation. */
export async function guardClassify(engine: Engine, conversation: ChatMessage[], role: "User" | "Agent", options: { categories: readonly string[]; threshold: number; logitBias?: Record<string, number>; signal?: AbortSignal }): Promise<GuardVerdict> {
  const prompt = chatPrompt(engine, llamaGuardPrompt(conversation, role, options.categories));
  const r = await generateShort(engine, prompt, {
    grammar: { kind: "gbnf", grammar: verdictGrammar(options.categories) },
    maxTokens: 4 + options.categories.length * 3,
    top: 20,
    ...(options.logitBias ? { logitBias: options.logitBias } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const first = r.logprobs?.[0];
  let pUnsafe = 0;
  let pSafe = 0;
  if (first) {
    // The first token is a prefix of "unsafe" or of "safe"; add up every candidate that is.
    const seen = new Set<number>();
    for (const c of [{ token: first.token, text: first.text, logprob: first.logprob }, ...first.top]) {
      if (seen.has(c.token)) continue;
      seen.add(c.token);
      const t = c.text.trim().toLowerCase();
      if (t.length === 0) continue;
      const p = Math.exp(c.logprob);
      if ("unsafe".startsWith(t)) pUnsafe += p;
      else if ("safe".startsWith(t)) pSafe += p;
    }
  }
  const text = r.text.trim();
  const score = pUnsafe + pSafe > 0 ? pUnsafe / (pUnsafe + pSafe) : text.startsWith("unsafe") ? 1 : 0;
  const categories = text.startsWith("unsafe") ? (text.split("\n")[1] ?? "").split(",").map((c) => c.trim()).filter((c) => c in LLAMA_GUARD_CATEGORIES) : [];
  return { unsafe: score >= options.threshold, score, categories: [...new Set(categories)] };
}
