import { type Config, parseConfig } from "../config.ts";
import type { Scenario } from "./scenario.ts";

/** The production defaults, parsed once (zod per process start would cost more than a run's events). */
const defaults: Config = parseConfig({ ROLE: "follower", CLUSTER_TOKEN: "simulated-cluster" });

/** A node's Config for one run: the seed's quorum, delays, heartbeat, retention and write timeout. */
export function nodeConfig(scenario: Scenario, node: { role: "leader" | "follower"; nodeId: string; followers?: string[] }): Config {
  return {
    ...defaults,
    role: node.role,
    nodeId: node.nodeId,
    followers: node.followers ?? [],
    leaderUrl: node.role === "follower" ? "L" : null,
    writeQuorum: scenario.writeQuorum,
    minDelayMs: scenario.requestDelay.minUs / 1000,
    maxDelayMs: scenario.requestDelay.maxUs / 1000,
    heartbeatMs: scenario.heartbeatUs / 1000,
    quorumTimeoutMs: scenario.clientTimeoutUs / 1000,
    logRetention: scenario.logRetention,
  };
}
