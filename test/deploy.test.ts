/**
 * The Kubernetes manifests (deploy/) rendered offline with `kubectl kustomize` and every object
 * validated against its schema (kubernetes-models' bundled Kubernetes JSON schemas; the Prometheus
 * Operator's for ServiceMonitor), then checked for what the deployment relies on: probes, the
 * ~20-minute startup allowance, the model-cache volume, GPU limits, the HPA's metric, references
 * that resolve, and a router config that `nimble router` accepts. Also the Dockerfiles' essentials.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseAllDocuments, parse as parseYaml } from "yaml";
import * as apps from "kubernetes-models/apps/v1";
import * as autoscaling from "kubernetes-models/autoscaling/v2";
import * as core from "kubernetes-models/v1";
import * as policy from "kubernetes-models/policy/v1";
import * as monitoring from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { parseRouterConfig } from "../src/router/config.js";

const OVERLAYS = ["deploy/overlays/cpu", "deploy/overlays/gpu", "deploy/examples/with-vllm"];

/** The model class of each kind the manifests may use; any other kind fails the test. */
const MODELS: Record<string, new (o: any) => { validate(): void }> = {
  "v1/Namespace": core.Namespace,
  "v1/Secret": core.Secret,
  "v1/ConfigMap": core.ConfigMap,
  "v1/Service": core.Service,
  "apps/v1/StatefulSet": apps.StatefulSet,
  "apps/v1/Deployment": apps.Deployment,
  "autoscaling/v2/HorizontalPodAutoscaler": autoscaling.HorizontalPodAutoscaler,
  "policy/v1/PodDisruptionBudget": policy.PodDisruptionBudget,
  "monitoring.coreos.com/v1/ServiceMonitor": monitoring.ServiceMonitor,
};

const kubectl = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" });
const hasKubectl = kubectl.status === 0 && /Kustomize Version/.test(kubectl.stdout);

function render(dir: string): any[] {
  const r = spawnSync("kubectl", ["kustomize", dir], { encoding: "utf8" });
  assert.equal(r.status, 0, `kubectl kustomize ${dir} failed: ${r.stderr}`);
  return parseAllDocuments(r.stdout).map((d) => d.toJS()).filter(Boolean);
}

const find = (objs: any[], kind: string, name: string) => objs.find((o) => o.kind === kind && o.metadata.name.startsWith(name));

describe("Kubernetes manifests", { skip: hasKubectl ? false : "kubectl (with kustomize) is not installed: install kubectl to render and validate deploy/ offline" }, () => {
  for (const dir of OVERLAYS) {
    it(`${dir} renders and every object validates against its schema`, () => {
      const objs = render(dir);
      assert.ok(objs.length >= 12);
      for (const o of objs) {
        const Model = MODELS[`${o.apiVersion}/${o.kind}`];
        assert.ok(Model, `no schema for ${o.apiVersion} ${o.kind}`);
        assert.doesNotThrow(() => new Model(o).validate(), `${o.kind}/${o.metadata?.name} does not validate`);
        assert.equal(o.metadata.namespace ?? (o.kind === "Namespace" ? "nimble" : undefined), "nimble", `${o.kind}/${o.metadata.name} is not in namespace nimble`);
      }
      // Every Secret and ConfigMap the pods and monitors name exists.
      const names = new Set(objs.filter((o) => o.kind === "Secret" || o.kind === "ConfigMap").map((o) => `${o.kind}/${o.metadata.name}`));
      const refs: string[] = [];
      const walk = (v: any) => {
        if (Array.isArray(v)) return v.forEach(walk);
        if (v && typeof v === "object") {
          if (v.secretKeyRef && !v.secretKeyRef.optional) refs.push(`Secret/${v.secretKeyRef.name}`);
          if (v.configMap?.name) refs.push(`ConfigMap/${v.configMap.name}`);
          if (v.credentials?.name) refs.push(`Secret/${v.credentials.name}`);
          Object.values(v).forEach(walk);
        }
      };
      walk(objs);
      for (const ref of refs) assert.ok(names.has(ref), `${ref} is referenced but not rendered`);

      const sts = find(objs, "StatefulSet", "nimble");
      const c = sts.spec.template.spec.containers[0];
      assert.equal(c.readinessProbe.httpGet.path, "/v1/health/ready");
      assert.equal(c.livenessProbe.httpGet.path, "/v1/health/live");
      const s = c.startupProbe;
      assert.ok(s.initialDelaySeconds + s.periodSeconds * s.failureThreshold >= 20 * 60, "the startup probe allows less than 20 minutes for a model download");
      assert.equal(sts.spec.replicas, undefined, "the HPA owns the replica count");
      assert.ok(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage);
      assert.ok(c.volumeMounts.some((m: any) => m.name === "model-cache" && m.mountPath === c.env.find((e: any) => e.name === "NIMBLE_HOME").value));
      assert.ok(c.resources.requests.cpu && c.resources.requests.memory);
      assert.equal(sts.spec.template.spec.securityContext.runAsNonRoot, true);
      assert.ok(c.env.some((e: any) => e.name === "HF_TOKEN" && e.valueFrom.secretKeyRef));
      if (dir !== "deploy/overlays/cpu") {
        assert.equal(c.resources.limits["nvidia.com/gpu"], "1");
        assert.match(c.image, /:cuda$/);
      }

      const hpa = find(objs, "HorizontalPodAutoscaler", "nimble");
      assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: "apps/v1", kind: "StatefulSet", name: "nimble" });
      assert.equal(hpa.spec.metrics[0].pods.metric.name, "num_requests_waiting");
      assert.ok(objs.some((o) => o.kind === "ServiceMonitor" && o.spec.endpoints[0].path === "/v1/metrics"));

      const router = find(objs, "Deployment", "nimble-router");
      const rc = router.spec.template.spec.containers[0];
      assert.deepEqual(rc.args.slice(0, 2), ["router", "--config"]);
      assert.doesNotMatch(rc.image, /cuda/, "the router needs no GPU image");
      const config = find(objs, "ConfigMap", "nimble-router-config");
      const env: Record<string, string> = {};
      for (const e of rc.env) env[e.name] = "x";
      const saved = { ...process.env };
      Object.assign(process.env, env);
      try {
        const parsed = parseRouterConfig(parseYaml(config.data["router.yaml"]), `${dir} router.yaml`);
        assert.ok(parsed.upstreams.some((u) => u.discovery === "dns" && new URL(u.url).hostname === "nimble-headless"));
        if (dir.includes("vllm")) assert.ok(parsed.upstreams.some((u) => u.name === "vllm"));
      } finally {
        process.env = saved;
      }
    });
  }
});

describe("Dockerfiles", () => {
  for (const file of ["Dockerfile", "Dockerfile.cuda"]) {
    it(`${file}: non-root user, NIMBLE_HOME on a volume, a health check`, () => {
      const text = readFileSync(file, "utf8");
      assert.match(text, /^USER 10001/m);
      assert.match(text, /NIMBLE_HOME=\/data/);
      assert.match(text, /^VOLUME \["\/data"\]/m);
      assert.match(text, /^HEALTHCHECK .*\n.*\/v1\/health\/live/m);
      assert.match(text, /NIMBLE_ROUTER_HOST=0\.0\.0\.0/, "`docker run … router` must listen beyond the container's loopback");
      // The health check finds whichever of the two commands runs: the server's port or the router's (default 8080).
      const check = /^HEALTHCHECK .*\n\s*CMD (.*)$/m.exec(text)![1]!;
      assert.match(check, /NIMBLE_PORT\|\|8000/);
      assert.match(check, /NIMBLE_ROUTER_PORT\|\|8080/);
      if (file.endsWith("cuda")) assert.match(text, /^FROM nvidia\/cuda:[\d.]+-runtime-ubuntu22\.04/m);
    });
  }
});
