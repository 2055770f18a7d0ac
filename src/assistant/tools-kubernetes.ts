/**
 * The Kubernetes tool: writes a kustomize overlay for the setup — a copy of Nimble's base manifests
 * (deploy/base: replicas behind `nimble router`, autoscaled) and an overlay that sets the chosen
 * model and settings, the CPU or CUDA image and, when given, the guardrails file as a ConfigMap —
 * into one folder next to nimble.yaml, so `kubectl kustomize <dir> | kubectl apply -f -` deploys it.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { z } from "zod";
import { servingProperties, str, tool } from "./tool.js";

/** deploy/base of this Nimble (from dist/src/assistant/ or src/assistant/). */
function baseDir(): string {
  for (const up of ["../../../deploy/base", "../../deploy/base"]) {
    const dir = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(join(dir, "kustomization.yaml"))) return dir;
  }
  throw new Error("this Nimble installation has no deploy/base manifests to build on");
}

const schema = z
  .object({
    dir: z.string().min(1).default("kubernetes"),
    model: z.string().min(1).max(2048),
    served_model_name: z.string().min(1).max(512).optional(),
    embedding_model: z.string().min(1).max(2048).optional(),
    parallel: z.number().int().positive().max(256).optional(),
    ctx_size: z.number().int().positive().optional(),
    gpu: z.boolean().default(false),
    image: z.string().regex(/^[a-z0-9][a-z0-9._\/:-]{0,254}$/, "an image name without a tag, e.g. ghcr.io/your-org/nimble").default("ghcr.io/your-org/nimble"),
    namespace: z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "a Kubernetes namespace name").default("nimble"),
    guardrails: z.string().min(1).optional(),
    storage: z.string().regex(/^\d{1,5}(Gi|Ti)$/, "a size like 20Gi").optional(),
  })
  .strict();
type Args = z.infer<typeof schema>;

const env = (name: string, value: string | number) => ({ name, value: String(value) });

/** The files of the overlay (besides base/), by name. */
export function overlayFiles(a: Args): Record<string, string> {
  const container: Record<string, unknown> = {
    name: "nimble",
    image: a.gpu ? "nimble:cuda" : "nimble:cpu",
    env: [
      env("NIMBLE_GPU", a.gpu ? "cuda" : "cpu"),
      env("NIMBLE_MODEL", a.model),
      env("NIMBLE_SERVED_MODEL_NAME", a.served_model_name ?? basename(a.model).replace(/\.gguf$/i, "").replace(/[:/]/g, "-")),
      ...(a.embedding_model ? [env("NIMBLE_EMBEDDING_MODEL", a.embedding_model)] : []),
      ...(a.parallel ? [env("NIMBLE_PARALLEL", a.parallel)] : []),
      ...(a.ctx_size ? [env("NIMBLE_CTX_SIZE", a.ctx_size)] : []),
      ...(a.guardrails ? [env("NIMBLE_GUARDRAILS", "/etc/nimble/guardrails/guardrails.yaml")] : []),
    ],
    ...(a.gpu ? { resources: { requests: { cpu: "4", memory: "16Gi", "nvidia.com/gpu": "1" }, limits: { memory: "32Gi", "nvidia.com/gpu": "1" } } } : {}),
    ...(a.guardrails ? { volumeMounts: [{ name: "guardrails", mountPath: "/etc/nimble/guardrails", readOnly: true }] } : {}),
  };
  const patch = {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "nimble" },
    spec: {
      template: {
        spec: {
          ...(a.gpu ? { tolerations: [{ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" }] } : {}),
          containers: [container],
          ...(a.guardrails ? { volumes: [{ name: "guardrails", configMap: { name: "nimble-guardrails" } }] } : {}),
        },
      },
      ...(a.storage ? { volumeClaimTemplates: [{ metadata: { name: "model-cache" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: a.storage } } } }] } : {}),
    },
  };
  const kustomization = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    namespace: a.namespace,
    resources: ["namespace.yaml", "base"],
    images: [
      { name: "nimble:cpu", newName: a.image, newTag: "cpu" },
      { name: "nimble:cuda", newName: a.image, newTag: "cuda" },
    ],
    patches: [{ path: "nimble-settings.yaml" }],
    ...(a.guardrails ? { configMapGenerator: [{ name: "nimble-guardrails", files: ["guardrails.yaml"] }] } : {}),
  };
  const head = "# Written by `nimble assistant`. Deploy: kubectl kustomize . | kubectl apply -f -   (docs/DEPLOY.md)\n";
  return {
    "kustomization.yaml": head + stringify(kustomization),
    "namespace.yaml": stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: a.namespace } }),
    "nimble-settings.yaml": `# The model and settings of this setup, patched onto base/nimble-statefulset.yaml.\n${stringify(patch)}`,
    ...(a.guardrails ? { "guardrails.yaml": readFileSync(a.guardrails, "utf8") } : {}),
  };
}

export const writeKubernetes = tool({
  name: "write_kubernetes",
  description: "On request: write the Kubernetes configuration of this setup (a kustomize folder: Nimble's base manifests plus the chosen model, settings, CPU or GPU image and guardrails) next to nimble.yaml.",
  schema,
  parameters: {
    type: "object",
    properties: {
      dir: str(512),
      ...servingProperties(),
      gpu: { type: "boolean" },
      image: { type: "string", pattern: "^[a-z0-9][a-z0-9._/:-]{0,254}$" },
      namespace: { type: "string", pattern: "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$" },
      guardrails: str(512),
      storage: { type: "string", pattern: "^[0-9]{1,5}(Gi|Ti)$" },
    },
    required: ["model"],
    additionalProperties: false,
  },
  changes: true,
  plan: (a) => `write the Kubernetes configuration (kustomize) for ${a.model} on ${a.gpu ? "GPU" : "CPU"} nodes into ${resolve(a.dir)}/`,
  async run(args) {
    const dir = resolve(args.dir);
    if (existsSync(dir)) throw new Error(`${dir} already exists: choose another folder or remove it`);
    if (args.guardrails && !existsSync(args.guardrails)) throw new Error(`no guardrails file at ${args.guardrails}`);
    const files = overlayFiles(args);
    // Built beside its place and renamed in: never a half-written folder.
    const tmp = join(dirname(dir), `.${basename(dir)}.${process.pid}.tmp`);
    rmSync(tmp, { recursive: true, force: true });
    try {
      const base = baseDir();
      mkdirSync(join(tmp, "base"), { recursive: true });
      for (const f of readdirSync(base)) copyFileSync(join(base, f), join(tmp, "base", f));
      for (const [name, text] of Object.entries(files)) writeFileSync(join(tmp, name), text);
      renameSync(tmp, dir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
    const local = !/^(hf:|https?:\/\/)/.test(args.model) || (args.embedding_model !== undefined && !/^(hf:|https?:\/\/)/.test(args.embedding_model));
    const notes = [
      `render and apply: kubectl kustomize ${dir} | kubectl apply -f -`,
      "set the API keys in base/secrets.yaml (or replace that Secret) before applying",
      ...(local ? ["a local model path must exist inside the pod: prefer a hf: reference or an http(s) URL"] : []),
    ];
    return { result: { dir, files: ["base/", ...Object.keys(files)], notes }, summary: `wrote the Kubernetes configuration to ${dir}/ (${notes[0]})`, undo: { type: "remove_dir", path: dir } };
  },
});
