import { afterEach, expect, test } from "bun:test";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { type Cluster, freePort, startCluster } from "../../src/cluster.ts";
import { http, waitFor } from "../helpers.ts";

// Issue 11, item 3: a leader that a newer one replaced (paused while the other fenced its
// followers) must stop serving the moment it learns of the newer epoch.

let cluster: Cluster | undefined;
let second: Subprocess | undefined;
afterEach(async () => {
  if (second) {
    second.kill("SIGKILL");
    await second.exited;
    second = undefined;
  }
  await cluster?.stop();
  cluster = undefined;
});

/** A second leader process over the same followers, with the same token (as an operator's mistake would start one). */
async function startSecondLeader(cluster: Cluster): Promise<string> {
  const port = freePort();
  second = Bun.spawn([process.execPath, join(resolve(import.meta.dir, "../.."), "src", "main.ts")], {
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

test("a deposed leader stops serving reads and writes once it learns of the newer epoch", async () => {
  cluster = await startCluster({ followers: 5, writeQuorum: 3, minDelayMs: 0, maxDelayMs: 1 });
  const first = cluster.leader;
  expect((await http(`${first.url}/kv/k`, { method: "PUT", json: { value: "old" } })).status).toBe(200);
  first.pause();
  const secondUrl = await startSecondLeader(cluster);
  expect((await http(`${secondUrl}/kv/k`, { method: "PUT", json: { value: "new" } })).status).toBe(200);
  first.resume();

  const status = await waitFor(
    "the first leader to say it is deposed",
    async () => {
      const body = (await http(`${first.url}/status`)).body;
      return body.role === "deposed" ? body : null;
    },
    10_000,
    50,
  );
  expect(status.deposedBy).toBe((await http(`${secondUrl}/status`)).body.epoch);
  const read = await http(`${first.url}/kv/k`);
  expect([read.status, read.body.error, read.body.reason]).toEqual([503, "stale_read", "deposed"]);
  const write = await http(`${first.url}/kv/k`, { method: "PUT", json: { value: "lost" } });
  expect([write.status, write.body.error, write.body.deposedBy]).toEqual([421, "not_leader", status.deposedBy]);
  expect((await http(`${first.url}/status`)).body.lastOffset).toBe(status.lastOffset); // the refused write appended nothing
  expect((await http(`${secondUrl}/kv/k`)).body.value).toBe("new");
}, 60_000);
