import { afterAll, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { parseConfig } from "../src/config.ts";

// No Kubernetes here, so k8s/quorumkv.yaml is checked as data, as test/compose.test.ts checks
// compose.yaml: each pod's environment is built the way the kubelet builds it (fieldRef,
// secretKeyRef, $(NAME) from the variables above only) and must pass the node's own config schema;
// the ROLE wrapper and the preStop hook are run for real; names, ports, probes, volumes and the
// disruption budget must fit together.

type Env = { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } } };
type Probe = { httpGet: { path: string; port: string | number } };
type Container = {
  command: string[];
  env: Env[];
  ports: { name: string; containerPort: number }[];
  readinessProbe: Probe;
  livenessProbe: Probe;
  volumeMounts: { name: string; mountPath: string }[];
  lifecycle: { preStop: { exec: { command: string[] } } };
};
type Manifest = { kind: string; apiVersion: string; metadata: { name: string }; spec: any };

const manifests = parseAllDocuments(readFileSync("k8s/quorumkv.yaml", "utf8")).map((doc) => doc.toJS() as Manifest);
const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);
const service = byKind("Service")[0]!;
const statefulSet = byKind("StatefulSet")[0]!;
const budget = byKind("PodDisruptionBudget")[0]!;
const pod = statefulSet.spec.template.spec;
const container = pod.containers[0] as Container;
const namespace = "shop";
const token = "a-token-from-the-operator";
const replicas = statefulSet.spec.replicas as number;
const podUrl = (i: number) => `http://quorumkv-${i}.quorumkv.${namespace}.svc.cluster.local:5000`;

const folder = mkdtempSync(join(tmpdir(), "quorumkv-k8s-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** The container's environment in pod `quorumkv-<ordinal>`, as the kubelet resolves it. */
function podEnv(ordinal: number): Record<string, string> {
  const env: Record<string, string> = {};
  const fields: Record<string, string> = { "metadata.name": `quorumkv-${ordinal}`, "metadata.namespace": namespace };
  for (const entry of container.env) {
    if (entry.valueFrom?.fieldRef) env[entry.name] = fields[entry.valueFrom.fieldRef.fieldPath]!;
    else if (entry.valueFrom?.secretKeyRef) env[entry.name] = entry.valueFrom.secretKeyRef.name === "quorumkv" ? token : "";
    // $(NAME) of a variable not defined above stays as written, which the schema then refuses.
    else env[entry.name] = String(entry.value).replace(/\$\(([A-Z_]+)\)/g, (whole, name: string) => env[name] ?? whole);
  }
  return env;
}

/** ROLE as the container's command sets it: its shell line runs with a `bun` that prints ROLE. */
function roleOf(env: Record<string, string>): string {
  const fakeBin = join(folder, "bin");
  mkdirSync(fakeBin, { recursive: true });
  writeFileSync(join(fakeBin, "bun"), '#!/bin/sh\nprintf %s "$ROLE"\n');
  chmodSync(join(fakeBin, "bun"), 0o755);
  const run = Bun.spawnSync(container.command, { env: { ...env, PATH: `${fakeBin}:/usr/bin:/bin` } });
  expect(run.exitCode).toBe(0);
  return run.stdout.toString();
}

test("a headless Service, a StatefulSet of 6 that uses it, a PodDisruptionBudget, and no token in the file", () => {
  expect(manifests.map((m) => m.kind).sort()).toEqual(["PodDisruptionBudget", "Service", "StatefulSet"]);
  expect(service.spec.clusterIP).toBe("None");
  expect(service.spec.publishNotReadyAddresses).toBe(true);
  expect(statefulSet.spec.serviceName).toBe(service.metadata.name);
  expect(service.metadata.name).toBe("quorumkv");
  expect(replicas).toBe(6);
  const labels = statefulSet.spec.template.metadata.labels;
  for (const selector of [statefulSet.spec.selector.matchLabels, service.spec.selector, budget.spec.selector.matchLabels]) {
    expect(Object.entries(selector).every(([key, value]) => labels[key] === value)).toBe(true);
  }
  expect(byKind("Secret")).toEqual([]);
  const tokenEntry = container.env.find((entry) => entry.name === "CLUSTER_TOKEN")!;
  expect(tokenEntry.value).toBeUndefined();
  expect(tokenEntry.valueFrom?.secretKeyRef).toEqual({ name: "quorumkv", key: "cluster-token" });
});

test("ports: the Service's http port is the container's, which is PORT; probes ask /health there", () => {
  expect(container.ports).toEqual([{ name: "http", containerPort: 5000 }]);
  expect(service.spec.ports).toEqual([{ name: "http", port: 5000, targetPort: "http" }]);
  for (const probe of [container.readinessProbe, container.livenessProbe]) expect(probe.httpGet).toEqual({ path: "/health", port: "http" });
  expect(parseConfig({ ...podEnv(1), ROLE: "follower" }).port).toBe(5000);
});

test("only quorumkv-0 starts as the leader; the wrapper then runs the node itself", () => {
  expect(Array.from({ length: replicas }, (_, i) => roleOf(podEnv(i)))).toEqual(["leader", "follower", "follower", "follower", "follower", "follower"]);
  expect(container.command.at(-1)).toEndWith("exec bun src/main.ts");
});

test("PEERS names every pod by its DNS name, and ADVERTISE_URL is the pod's own entry", () => {
  for (let i = 0; i < replicas; i++) {
    const env = podEnv(i);
    expect(env.PEERS!.split(",")).toEqual(Array.from({ length: replicas }, (_, j) => podUrl(j)));
    expect(env.ADVERTISE_URL).toBe(podUrl(i));
    expect(env.NODE_ID).toBe(`quorumkv-${i}`);
  }
});

test("the follower pods' environments pass the config schema: host, port, token, data on the volume", () => {
  const mount = container.volumeMounts.find((m) => m.name === statefulSet.spec.volumeClaimTemplates[0].metadata.name)!;
  for (let i = 1; i < replicas; i++) {
    const env = podEnv(i);
    const config = parseConfig({ ...env, ROLE: roleOf(env) });
    expect(config).toMatchObject({ role: "follower", nodeId: `quorumkv-${i}`, host: "0.0.0.0", port: 5000, clusterToken: token, dataDir: mount.mountPath });
    expect(config.sync).toBe("fsync");
    expect(config.writeQuorum).toBe(3);
  }
});

test("every pod's environment, the first leader's included, passes the schema with its PEERS and ADVERTISE_URL", () => {
  for (let i = 0; i < replicas; i++) {
    const env = podEnv(i);
    const config = parseConfig({ ...env, ROLE: roleOf(env) });
    expect(config.peers).toEqual(Array.from({ length: replicas }, (_, j) => podUrl(j)));
    expect(config.advertiseUrl).toBe(podUrl(i));
  }
});

test("one volume per pod: a ReadWriteOnce claim template mounted at DATA_DIR, writable by the image's user", () => {
  const [claim] = statefulSet.spec.volumeClaimTemplates;
  expect(statefulSet.spec.volumeClaimTemplates).toHaveLength(1);
  expect(claim.spec.accessModes).toEqual(["ReadWriteOnce"]);
  expect(claim.spec.resources.requests.storage).toMatch(/^\d+[GM]i$/);
  expect(container.volumeMounts).toEqual([{ name: claim.metadata.name, mountPath: podEnv(0).DATA_DIR! }]);
  expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 });
  expect(pod.volumes).toBeUndefined();
});

test("the disruption budget leaves a write quorum and an election quorum standing", () => {
  const writeQuorum = Number(podEnv(0).WRITE_QUORUM);
  expect(budget.apiVersion).toBe("policy/v1");
  const left = replicas - budget.spec.maxUnavailable;
  // Writes need the leader and W followers; an election needs M − W promises (DESIGN §9).
  expect(left).toBeGreaterThanOrEqual(writeQuorum + 1);
  expect(left).toBeGreaterThanOrEqual(replicas - writeQuorum);
});

test("preStop asks the node on PORT to step down, with the cluster token", async () => {
  const requests: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request) => {
      requests.push(`${request.method} ${new URL(request.url).pathname} ${request.headers.get("authorization")}`);
      return Response.json({ error: "not_leader", leader: null }, { status: 421 });
    },
  });
  try {
    const [program, ...args] = container.lifecycle.preStop.exec.command;
    expect(program).toBe("bun");
    const child = Bun.spawn([process.execPath, ...args], { env: { PORT: String(server.port), CLUSTER_TOKEN: token }, stdout: "ignore", stderr: "pipe" });
    expect(await child.exited).toBe(0);
    expect(requests).toEqual([`POST /admin/step-down Bearer ${token}`]);
  } finally {
    server.stop(true);
  }
});
