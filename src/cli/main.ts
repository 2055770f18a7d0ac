/** The `nimble` command line: thin commands that parse flags and call the library. */
import { Command, CommanderError } from "commander";
import { NIMBLE_VERSION } from "../version.js";
import { registerBench } from "./commands/bench.js";
import { registerGenModel } from "./commands/gen-model.js";
import { registerModels } from "./commands/models.js";
import { registerProfiles } from "./commands/profiles.js";
import { registerPull } from "./commands/pull.js";
import { registerKeys } from "./commands/keys.js";
import { registerGuardrails } from "./commands/guardrails.js";
import { registerServe } from "./commands/serve.js";
import { registerRouter } from "./commands/router.js";
import { registerAssistant } from "./commands/assistant.js";
import { registerRag } from "./commands/rag.js";

const program = new Command()
  .name("nimble")
  .description("Self-hosted inference: llama.cpp behind OpenAI- and NIM-compatible APIs.")
  .version(NIMBLE_VERSION)
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride();

registerServe(program);
registerPull(program);
registerModels(program);
registerProfiles(program);
registerGenModel(program);
registerBench(program);
registerKeys(program);
registerRouter(program);
registerAssistant(program);
registerRag(program);
registerGuardrails(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode);
  const e = err as NodeJS.ErrnoException & { port?: number };
  // Listening failed because the port is taken: say how to pick another.
  const hint = e.code === "EADDRINUSE" ? " (another server is listening there; choose another port with --port N or NIMBLE_PORT, or --port 0 for any free one)" : "";
  process.stderr.write(`nimble: ${e.message}${hint}\n`);
  process.exit(1);
}
