import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { parseConfig } from "../src/config.ts";

// No Docker engine runs here, so compose.yaml is checked as data: every service's environment
// must pass the node's own config schema, and names, ports and commands must fit together.

/** Compose's `${NAME:-default}` interpolation, with nothing set in the environment. */
const interpolate = (value: unknown) =>
  String(value).replace(/\$\{([A-Z_]+)(?::-([^}]*))?\}/g, (_, _name: string, fallback?: string) => fallback ?? "");

const compose = parse(readFileSync("compose.yaml", "utf8"), { merge: true }) as {
  services: Record<string, { command: string[]; environment: Record<string, unknown>; ports: string[]; build?: string; healthcheck?: unknown }>;
};
const services = compose.services;
const envOf = (name: string) => Object.fromEntries(Object.entries(services[name]!.environment).map(([k, v]) => [k, interpolate(v)]));

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
  expect(readFileSync("Dockerfile", "utf8")).toContain('CMD ["bun", "src/main.ts"]');
});

test("every node shares one token", () => {
  const tokens = new Set(Object.keys(services).map((name) => parseConfig(envOf(name)).clusterToken));
  expect(tokens.size).toBe(1);
});
