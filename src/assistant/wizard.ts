/**
 * The guided wizard: the same plan as the agent (machine, model, documents, key, guardrails,
 * benchmark, nimble.yaml)
 * as questions and answers, for when no capable language model is available. It runs the same
 * tools, so every change is confirmed, logged and undoable alike.
 */
import { CATALOG } from "./catalog.js";
import { executeTool, type Session } from "./execute.js";

export async function runWizard(session: Session): Promise<void> {
  const { io } = session;
  const ask = async (q: string) => (await io.ask(q))?.trim() ?? "";
  io.say("Guided setup: answer each question (an empty answer skips the step).");
  const machine = await executeTool(session, "inspect_machine", {});
  if (machine.status !== "done") return;

  const recommended = await executeTool(session, "recommend_models", { kind: "chat" });
  const picks = recommended.status === "done" ? (recommended.result as { id: string; ref: string }[]) : [];
  picks.forEach((m, i) => io.say(`  ${i + 1}. ${m.id} → ${m.ref}`));
  const choice = await ask("Model to serve (a number above, a hf: reference or an http(s) URL; empty: keep the current one): ");
  let modelRef: string | undefined;
  if (choice) {
    const n = Number(choice);
    modelRef = Number.isInteger(n) && picks[n - 1] ? picks[n - 1]!.ref : (CATALOG.find((m) => m.id === choice)?.ref ?? choice);
    const pulled = await executeTool(session, "pull_model", { model: modelRef });
    if (pulled.status === "done") await executeTool(session, "load_model", { model: modelRef });
  }

  const folder = await ask("Folder of documents for a document store (empty: none): ");
  if (folder) {
    const name = (await ask("Name of the document store [docs]: ")) || "docs";
    await executeTool(session, "create_document_store", { name, folder });
  }

  const keyName = await ask("Name of an API key for your application (empty: none): ");
  if (keyName) await executeTool(session, "create_api_key", { name: keyName, scope: "inference" });

  const guardrailsPath = await ask("Guardrails file to write (masks personal data, blocks prompt injections; empty: none): ");
  let guardrails: string | undefined;
  if (guardrailsPath) {
    const written = await executeTool(session, "write_guardrails", { path: guardrailsPath, personal_data: "mask", injections: "block" });
    if (written.status === "done") guardrails = (written.result as { path: string }).path;
  }

  const users = Number(await ask("Benchmark for how many simultaneous users (empty: skip)? "));
  if (Number.isInteger(users) && users > 0) await executeTool(session, "run_benchmark", { concurrency: Math.min(users, 32), max_tokens: 32 });

  const path = (await ask("Where to write nimble.yaml [nimble.yaml]: ")) || "nimble.yaml";
  await executeTool(session, "write_config", { path, ...(modelRef ? { model: modelRef } : {}), ...(guardrails ? { guardrails } : {}) });
  io.say("Setup finished. Undo it with `nimble assistant --undo`.");
}
