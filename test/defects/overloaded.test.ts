import { afterEach, expect, test } from "bun:test";
import { type Cluster, startCluster } from "../../src/cluster.ts";
import { http, waitFor } from "../helpers.ts";

// Issue 11, item 4: a leader without its quorum grew its log at the write rate. Uncommitted
// entries (and waiting writes) are bounded by MAX_PENDING_WRITES: a write beyond answers
// 503 overloaded at once and changes nothing.

let cluster: Cluster | undefined;
afterEach(async () => {
  for (const node of cluster?.nodes ?? []) node.resume();
  await cluster?.stop();
  cluster = undefined;
});

test("writes beyond MAX_PENDING_WRITES uncommitted entries answer 503 overloaded and append nothing", async () => {
  cluster = await startCluster({ followers: 3, writeQuorum: 2, minDelayMs: 0, maxDelayMs: 1, quorumTimeoutMs: 300, env: { MAX_PENDING_WRITES: "5" } });
  const { leader, followers } = cluster;
  expect((await http(`${leader.url}/kv/a`, { method: "PUT", json: { value: 0 } })).status).toBe(200);
  for (const follower of followers) follower.pause();
  const timedOut = await Promise.all(Array.from({ length: 5 }, (_, i) => http(`${leader.url}/kv/k${i}`, { method: "PUT", json: { value: i } })));
  expect(timedOut.map((answer) => answer.body.error)).toEqual(Array(5).fill("quorum_timeout"));
  const before = (await http(`${leader.url}/status`)).body;
  expect(before.uncommittedEntries).toBe(5);
  for (let i = 0; i < 20; i++) {
    const answer = await http(`${leader.url}/kv/more${i}`, { method: "PUT", json: { value: i } });
    expect([answer.status, answer.body.error, answer.body.limit]).toEqual([503, "overloaded", 5]);
  }
  expect((await http(`${leader.url}/status`)).body.lastOffset).toBe(before.lastOffset);
  // Once the followers are back, the five commit and writes are taken again.
  for (const follower of followers) follower.resume();
  await waitFor("the pending writes to commit", async () => (await http(`${leader.url}/status`)).body.uncommittedEntries === 0);
  expect((await http(`${leader.url}/kv/after`, { method: "PUT", json: { value: 1 } })).status).toBe(200);
  expect((await http(`${leader.url}/kv/k4`)).body.value).toBe(4);
}, 60_000);
