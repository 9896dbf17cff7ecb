import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { parseConfig } from "../src/config.ts";

// No Docker engine runs here, so compose.yaml and the Dockerfile are checked as data: every
// service's environment must pass the node's own config schema, names, ports and commands must
// fit together, and nothing may start with a known token, as root, or from unlocked packages.

/** Compose's interpolation: `${NAME}`, `${NAME:-default}`, and `${NAME:?error}`, which refuses to start. */
function interpolate(value: unknown, env: Record<string, string>): string {
  return String(value).replace(/\$\{([A-Z_]+)(?::([-?])([^}]*))?\}/g, (_, name: string, kind?: string, operand?: string) => {
    if (env[name]) return env[name]!;
    if (kind === "?") throw new Error(`compose refuses: ${name}: ${operand}`);
    return kind === "-" ? operand! : "";
  });
}

type Service = { command: string[]; environment: Record<string, unknown>; ports: string[]; volumes?: string[]; build?: string; healthcheck?: unknown };
const compose = parse(readFileSync("compose.yaml", "utf8"), { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;
const withToken = { CLUSTER_TOKEN: "a-token-from-the-operator" };
const envOf = (name: string, env: Record<string, string> = withToken) =>
  Object.fromEntries(Object.entries(services[name]!.environment).map(([k, v]) => [k, interpolate(v, env)]));
const dockerfile = readFileSync("Dockerfile", "utf8");
const lockedBun = (JSON.parse(readFileSync("package-lock.json", "utf8")) as { packages: Record<string, { version: string }> }).packages["node_modules/bun"]!
  .version;

test("services are the leader and five followers", () => {
  expect(Object.keys(services).sort()).toEqual(["follower1", "follower2", "follower3", "follower4", "follower5", "leader"]);
});

test("every service's environment passes the config schema", () => {
  for (const name of Object.keys(services)) {
    const config = parseConfig(envOf(name));
    expect(config.role).toBe(name === "leader" ? "leader" : "follower");
    expect(config.nodeId).toBe(name);
    expect(config.port).toBe(5000);
    expect(config.host).toBe("0.0.0.0");
  }
});

test("the leader replicates to exactly the follower services, and followers point at the leader", () => {
  const leader = parseConfig(envOf("leader"));
  expect(leader.followers).toEqual([1, 2, 3, 4, 5].map((i) => `http://follower${i}:5000`));
  expect(leader.writeQuorum).toBe(3);
  for (let i = 1; i <= 5; i++) expect(parseConfig(envOf(`follower${i}`)).leaderUrl).toBe("http://leader:5000");
});

test("host ports are 5001 (leader) to 5006, every node runs main.ts with a health check", () => {
  expect(services.leader!.ports).toEqual(["5001:5000"]);
  for (let i = 1; i <= 5; i++) expect(services[`follower${i}`]!.ports).toEqual([`${5001 + i}:5000`]);
  for (const service of Object.values(services)) {
    expect(service.command).toEqual(["bun", "src/main.ts"]);
    expect(service.build).toBe(".");
    expect(service.healthcheck).toBeDefined();
  }
  expect(dockerfile).toContain('CMD ["bun", "src/main.ts"]');
});

test("every node shares the operator's token", () => {
  const tokens = new Set(Object.keys(services).map((name) => parseConfig(envOf(name)).clusterToken));
  expect([...tokens]).toEqual([withToken.CLUSTER_TOKEN]);
});

test("without CLUSTER_TOKEN compose refuses to start: no ports published with a token anyone knows", () => {
  for (const [name, service] of Object.entries(services)) {
    expect({ name, token: String(service.environment.CLUSTER_TOKEN) }).toEqual({ name, token: expect.stringMatching(/^\$\{CLUSTER_TOKEN:\?[^}]+\}$/) });
    expect(() => envOf(name, {})).toThrow("compose refuses: CLUSTER_TOKEN");
  }
});

test("the image installs from package-lock.json exactly, runs the locked Bun, and not as root", () => {
  const instructions = dockerfile.split("\n").filter((line) => /^[A-Z]+ /.test(line));
  expect(instructions.filter((line) => line.startsWith("RUN ")).every((line) => !/\b(bun|npm) (install|i|add)\b/.test(line))).toBe(true);
  expect(instructions).toContain("RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund");
  const runtimeImage = instructions.filter((line) => line.startsWith("FROM ")).at(-1);
  expect(runtimeImage).toBe(`FROM oven/bun:${lockedBun}-slim`);
  const runtimeStage = instructions.slice(instructions.lastIndexOf(runtimeImage!));
  const user = runtimeStage.findLast((line) => line.startsWith("USER "));
  expect(user).toBeDefined();
  expect(user).not.toMatch(/^USER (root|0)(:|$)/);
  expect(runtimeStage.indexOf(user!)).toBeLessThan(runtimeStage.findIndex((line) => line.startsWith("CMD ")));
});

test("every node keeps its data in a volume of its own, with SYNC=fsync unless the operator says otherwise", () => {
  const volumes = Object.entries(services).map(([name, service]) => {
    const config = parseConfig(envOf(name));
    expect(config.dataDir).toBe("/data");
    expect(config.sync).toBe("fsync");
    expect(service.volumes).toEqual([`${name}-data:/data`]);
    return `${name}-data`;
  });
  expect(new Set(volumes).size).toBe(6);
  expect(Object.keys(compose.volumes ?? {}).sort()).toEqual(volumes.sort());
  expect(parseConfig(envOf("leader", { ...withToken, SYNC: "write" })).sync).toBe("write");
  expect(dockerfile).toContain("RUN mkdir /data && chown bun:bun /data");
});
