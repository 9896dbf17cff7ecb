import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { type Cluster, freePort } from "../../src/cluster.ts";
import { http, waitFor } from "../helpers.ts";

let running: Subprocess | undefined;

/**
 * A second leader process over the same followers, with the same token (as an operator's mistake
 * would start one): it fences them at a newer epoch. Returns its URL; stopSecondLeader kills it.
 */
export async function startSecondLeader(cluster: Cluster): Promise<string> {
  const port = freePort();
  running = Bun.spawn([process.execPath, join(resolve(import.meta.dir, "../.."), "src", "main.ts")], {
    env: {
      ...process.env,
      ROLE: "leader",
      NODE_ID: "leader2",
      PORT: String(port),
      FOLLOWERS: cluster.followers.map((f) => f.url).join(","),
      WRITE_QUORUM: "3",
      CLUSTER_TOKEN: cluster.token,
      MIN_DELAY_MS: "0",
      MAX_DELAY_MS: "1",
      QUORUMKV_PARENT_PID: String(process.pid),
    },
    stdout: "ignore",
    stderr: "ignore",
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor("the second leader to serve", async () => (await http(`${url}/health`)).status === 200, 20_000, 50);
  return url;
}

/** Kills the second leader, if one runs (for afterEach). */
export async function stopSecondLeader(): Promise<void> {
  const child = running;
  running = undefined;
  if (!child) return;
  child.kill("SIGKILL");
  await child.exited;
}
