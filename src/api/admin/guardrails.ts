/**
 * The running server's guardrails, replaceable without a restart (admin scope, as all of
 * /v1/admin/*): GET returns the YAML in force, PUT `{yaml}` validates and compiles a new file
 * (the same checks as at startup: a bad file is a 400 naming its line, and nothing changes) and
 * swaps it in for the next request; PUT `{yaml: null}` turns guardrails off. In memory only: a
 * restart reads --guardrails again, so a caller that wants it to last also writes that file.
 */
import { readFileSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { GuardrailsConfigError, parseGuardrails, type GuardrailsFile } from "../../guardrails/config.js";
import type { Guardrails } from "../../guardrails/guardrails.js";
import { ApiError } from "../errors.js";
import { parseBody, type ServerState } from "../state.js";

const putSchema = z.object({ yaml: z.string().min(1).max(1024 * 1024).nullable() }).strict();

export function registerAdminGuardrailsRoutes(app: FastifyInstance, state: ServerState, started: GuardrailsFile | undefined, compile: (file: GuardrailsFile) => Guardrails): void {
  let yaml: string | null = null;
  let source: string | null = started?.source ?? null;
  if (started) {
    try {
      yaml = readFileSync(started.source, "utf8");
    } catch {
      yaml = null; // The file went away since the start; the compiled rails still apply.
    }
  }
  const describe = () => ({ object: "guardrails", source, yaml, default: state.guardrails?.defaultId ?? null, configs: state.guardrails?.list() ?? [] });

  app.get("/v1/admin/guardrails", async () => describe());

  app.put("/v1/admin/guardrails", async (request) => {
    const body = parseBody(putSchema, request.body);
    if (body.yaml === null) {
      delete state.guardrails;
      yaml = null;
      source = null;
      return describe();
    }
    let compiled: Guardrails;
    try {
      compiled = compile(parseGuardrails(body.yaml, "guardrails"));
    } catch (err) {
      if (err instanceof GuardrailsConfigError) throw ApiError.invalid(err.message, "yaml", "invalid_guardrails");
      throw err;
    }
    state.guardrails = compiled;
    yaml = body.yaml;
    source = "PUT /v1/admin/guardrails";
    return describe();
  });
}
