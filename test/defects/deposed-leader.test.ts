import { afterEach, expect, test } from "bun:test";
import { type Cluster, startCluster } from "../../src/cluster.ts";
import { http, waitFor } from "../helpers.ts";
import { startSecondLeader, stopSecondLeader } from "./second-leader.ts";

// Issue 11, item 3: a leader that a newer one replaced (paused while the other fenced its
// followers) must stop serving the moment it learns of the newer epoch.

let cluster: Cluster | undefined;
afterEach(async () => {
  await stopSecondLeader();
  await cluster?.stop();
  cluster = undefined;
});

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
