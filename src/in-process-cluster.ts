import { type Config, parseConfig } from "./config.ts";
import { createApp } from "./http/app.ts";
import { productionFollowerEnv, realClock, realDelays, realRandom, realTimers } from "./node/env.ts";
import { FollowerNode } from "./node/follower-node.ts";
import { InProcessTransport } from "./node/in-process-transport.ts";
import { LeaderNode } from "./node/leader-node.ts";
import { MemoryStorage } from "./node/storage.ts";

export const testToken = "test-token-0123456789";

/** A whole cluster inside this process (no sockets): apps to call with `app.request`. */
export function inProcessCluster(options: { followers?: number; env?: Record<string, string> } = {}) {
  const followerCount = options.followers ?? 5;
  const urls = Array.from({ length: followerCount }, (_, i) => `http://follower${i + 1}.test`);
  const base = { CLUSTER_TOKEN: testToken, MIN_DELAY_MS: "0", MAX_DELAY_MS: "0", HEARTBEAT_MS: "10", ...options.env };
  const transport = new InProcessTransport();
  const followers = urls.map((url, i) => {
    const config: Config = parseConfig({ ...base, ROLE: "follower", NODE_ID: `follower${i + 1}`, LEADER_URL: "http://leader.test" });
    const node = new FollowerNode(config, productionFollowerEnv());
    transport.add(url, node);
    return { url, node, app: createApp(node) };
  });
  const leaderConfig = parseConfig({
    WRITE_QUORUM: String(Math.min(3, followerCount)),
    ...base,
    ROLE: "leader",
    NODE_ID: "leader",
    FOLLOWERS: urls.join(","),
  });
  const leader = new LeaderNode(leaderConfig, {
    clock: realClock,
    timers: realTimers,
    random: realRandom,
    transport,
    storage: new MemoryStorage(),
    delays: realDelays(),
    log: () => {},
  });
  leader.start();
  return {
    leader: { node: leader, app: createApp(leader) },
    followers,
    transport,
    stop() {
      leader.stop();
      for (const follower of followers) follower.node.stop();
    },
  };
}

export const auth = { authorization: `Bearer ${testToken}` };

export function jsonRequest(method: string, body: unknown, headers: Record<string, string> = {}): RequestInit {
  return { method, body: typeof body === "string" ? body : JSON.stringify(body), headers: { "content-type": "application/json", ...headers } };
}
