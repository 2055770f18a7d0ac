/**
 * Admin routes the setup assistant needs (admin scope, as all of /v1/admin/*): creating and
 * revoking stored API keys (the same <home>/keys.json `nimble keys` manages; a running server sees
 * changes at once), and the machine's cores, memory and GPU, so a client can tell what fits.
 */
import os from "node:os";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { KEY_NAME, KeyStore, KeyStoreError, keyLimitsSchema, SCOPES } from "../../keys/store.js";
import { ApiError } from "../errors.js";
import { parseBody, type ServerState } from "../state.js";

const createKeySchema = z.object({ name: z.string().regex(KEY_NAME, "use 1-64 letters, digits, '.', '_' or '-'"), scope: z.enum(SCOPES).default("inference"), limits: keyLimitsSchema.default({}) }).strict();
const nameParams = z.object({ name: z.string().regex(KEY_NAME) });

export function registerAdminKeyAndMachineRoutes(app: FastifyInstance, state: ServerState, home: string): void {
  const store = KeyStore.inHome(home);

  app.get("/v1/admin/keys", async () => ({
    object: "list",
    data: store.list().map((k) => ({ name: k.name, scope: k.scope, hint: k.hint, created_at: k.createdAt, limits: k.limits })),
  }));

  app.post("/v1/admin/keys", async (request) => {
    const body = parseBody(createKeySchema, request.body);
    try {
      const { key, stored } = store.create(body.name, body.scope, body.limits);
      return { object: "api_key", name: stored.name, scope: stored.scope, key, hint: stored.hint, created_at: stored.createdAt, limits: stored.limits };
    } catch (err) {
      if (err instanceof KeyStoreError) throw new ApiError(/already exists/.test(err.message) ? 409 : 400, err.message, "invalid_request_error", "name", "invalid_value");
      throw err;
    }
  });

  app.delete("/v1/admin/keys/:name", async (request) => {
    const { name } = parseBody(nameParams, request.params);
    if (!store.remove(name)) throw new ApiError(404, `No stored key is named '${name}'.`, "invalid_request_error", "name", "not_found");
    return { name, object: "api_key", deleted: true };
  });

  app.get("/v1/admin/machine", async () => {
    const cpus = os.cpus();
    const hardware = (state.metadata.hardware ?? {}) as { gpu?: string | false; gpuDevices?: string[] };
    return {
      object: "machine",
      platform: process.platform,
      arch: process.arch,
      cpu_cores: cpus.length,
      cpu_model: cpus[0]?.model ?? null,
      ram_total_bytes: os.totalmem(),
      ram_free_bytes: os.freemem(),
      gpu: hardware.gpu || null,
      gpu_devices: hardware.gpuDevices ?? [],
      memory_budget_bytes: state.pool.budgetBytes,
    };
  });
}
