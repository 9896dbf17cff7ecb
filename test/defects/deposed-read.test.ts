import { afterEach, expect, test } from "bun:test";
import { type Cluster, startCluster } from "../../src/cluster.ts";
import { http, waitFor } from "../helpers.ts";
import { startSecondLeader, stopSecondLeader } from "./second-leader.ts";

// A leader that a newer one replaced while it was paused must not serve a read from its own
// state: the newer leader may have acknowledged writes it has not seen. Before ReadIndex it
// answered 200 with the overwritten value until a follower told it of the newer epoch; now it
// first confirms with a round of heartbeats that it still leads, and cannot while its followers
// are unreachable (503 stale_read, reason unconfirmed), then learns it was deposed.

let cluster: Cluster | undefined;
afterEach(async () => {
  await stopSecondLeader();
  for (const follower of cluster?.followers ?? []) follower.resume();
  await cluster?.stop();
  cluster = undefined;
});

test("a deposed leader that cannot reach its followers answers a read 503 unconfirmed, never the overwritten value", async () => {
  cluster = await startCluster({ followers: 5, writeQuorum: 3, minDelayMs: 0, maxDelayMs: 1 });
  const first = cluster.leader;
  expect((await http(`${first.url}/kv/k`, { method: "PUT", json: { value: 1 } })).status).toBe(200);
  first.pause();
  const secondUrl = await startSecondLeader(cluster);
  expect((await http(`${secondUrl}/kv/k`, { method: "PUT", json: { value: 2 } })).status).toBe(200);
  await stopSecondLeader();
  for (const follower of cluster.followers) follower.pause();
  first.resume();

  const read = await http(`${first.url}/kv/k`);
  expect([read.status, read.body.error, read.body.reason]).toEqual([503, "stale_read", "unconfirmed"]);

  for (const follower of cluster.followers) follower.resume();
  await waitFor("the first leader to learn it was deposed", async () => (await http(`${first.url}/status`)).body.role === "deposed", 10_000, 50);
  const after = await http(`${first.url}/kv/k`);
  expect([after.status, after.body.error, after.body.reason]).toEqual([503, "stale_read", "deposed"]);
  const write = await http(`${first.url}/kv/k`, { method: "PUT", json: { value: 3 } });
  expect([write.status, write.body.error]).toEqual([421, "not_leader"]);
}, 60_000);

test("a leader that still leads serves its reads after one round of heartbeats", async () => {
  cluster = await startCluster({ followers: 5, writeQuorum: 3, minDelayMs: 0, maxDelayMs: 1 });
  const { leader, followers } = cluster;
  expect((await http(`${leader.url}/kv/k`, { method: "PUT", json: { value: 1 } })).status).toBe(200);
  // Two of five paused: the three others are the read quorum for W = 3.
  followers[0]!.pause();
  followers[1]!.pause();
  const reads = await Promise.all(Array.from({ length: 20 }, () => http(`${leader.url}/kv/k`)));
  expect(reads.map((read) => [read.status, read.body.value])).toEqual(Array.from({ length: 20 }, () => [200, 1]));
  // A third paused: no read quorum left, and the leader says so rather than serving.
  followers[2]!.pause();
  const unconfirmed = await http(`${leader.url}/kv/k`);
  expect([unconfirmed.status, unconfirmed.body.reason]).toEqual([503, "unconfirmed"]);
}, 60_000);
