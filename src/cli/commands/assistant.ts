/** `nimble assistant`: set Nimble up by chatting (or a guided wizard), every change confirmed; `--undo` reverses the last session. */
import type { Command } from "commander";
import { resolveOptions } from "../../config.js";
import { runAssistant, undoAssistant } from "../../assistant/index.js";
import { lineIo } from "../../assistant/io.js";

interface Flags {
  url: string; adminKey?: string; home?: string; yes?: boolean; undo?: boolean; wizard?: boolean;
  assistantUrl?: string; assistantModel?: string; goal?: string;
}

export function registerAssistant(program: Command): void {
  program
    .command("assistant")
    .description("Set up Nimble by chatting: machine, model, document store, API keys, nimble.yaml; every change is shown and confirmed.")
    .option("--url <url>", "the Nimble server to set up [env: NIMBLE_URL]", process.env.NIMBLE_URL ?? "http://127.0.0.1:8000")
    .option("--admin-key <key>", "an admin-scope API key of that server [env: NIMBLE_ADMIN_KEY]")
    .option("--home <dir>", "Nimble home folder (the action log is <home>/assistant/actions.jsonl) [env: NIMBLE_HOME]")
    .option("--assistant-url <url>", "an OpenAI-compatible server whose model drives the assistant (key from NIMBLE_ASSISTANT_API_KEY) [env: NIMBLE_ASSISTANT_URL]", process.env.NIMBLE_ASSISTANT_URL)
    .option("--assistant-model <id>", "the model to use at --assistant-url [env: NIMBLE_ASSISTANT_MODEL]", process.env.NIMBLE_ASSISTANT_MODEL)
    .option("--goal <text>", "what to set up (otherwise asked)")
    .option("--wizard", "skip the language model: guided questions and answers")
    .option("-y, --yes", "confirm every change without asking (unattended runs)")
    .option("--undo", "reverse the actions of the last session (unload, remove the store, revoke the key, restore files)")
    .action(async (f: Flags) => {
      const { home } = resolveOptions(["home"], f.home === undefined ? {} : { home: f.home }, process.env, undefined);
      const io = lineIo(process.stdin, process.stdout);
      const adminKey = f.adminKey ?? process.env.NIMBLE_ADMIN_KEY;
      const common = { serverUrl: f.url.replace(/\/+$/, "").replace(/\/v1$/, ""), home, io, yes: f.yes ?? false, ...(adminKey ? { adminKey } : {}) };
      try {
        if (f.undo) {
          await undoAssistant(common);
          return;
        }
        const key = process.env.NIMBLE_ASSISTANT_API_KEY;
        await runAssistant({
          ...common,
          wizard: f.wizard ?? false,
          ...(f.assistantUrl ? { assistantUrl: f.assistantUrl } : {}),
          ...(f.assistantModel ? { assistantModel: f.assistantModel } : {}),
          ...(key ? { assistantApiKey: key } : {}),
          ...(f.goal ? { goal: f.goal } : {}),
        });
      } finally {
        io.close();
      }
    });
}
