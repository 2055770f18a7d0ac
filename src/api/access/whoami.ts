/**
 * GET /v1/whoami: what the presented API key may do, so a client (the playground) can hide what
 * its scope does not allow. It needs a key like any inference route (401 without one or with a
 * wrong one); with no keys configured every route is open and the answer says so.
 */
import type { FastifyInstance } from "fastify";

export interface WhoAmI {
  object: "whoami";
  /** Whether this server requires API keys at all. */
  keys_required: boolean;
  /** The key's name (never the key); null without keys. */
  name: string | null;
  /** What the key may do; "admin" when no keys are configured (everything is open). */
  scope: "admin" | "inference";
}

export function registerWhoami(app: FastifyInstance): void {
  app.get("/v1/whoami", async (request): Promise<WhoAmI> => {
    const key = request.apiKey;
    return { object: "whoami", keys_required: key !== null, name: key?.name ?? null, scope: key?.scope ?? "admin" };
  });
}
