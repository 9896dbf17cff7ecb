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

test("writes waiting for more acks than the write quorum are bounded too: 503 overloaded beyond MAX_PENDING_WRITES", async () => {
  cluster = await startCluster({ followers: 3, writeQuorum: 1, minDelayMs: 0, maxDelayMs: 1, env: { MAX_PENDING_WRITES: "5" } });
  const { leader, followers } = cluster;
  followers[1]!.pause();
  followers[2]!.pause();
  // Each commits at once (quorum 1) but waits for all three followers it asked for.
  const waiting = Array.from({ length: 5 }, (_, i) => http(`${leader.url}/kv/w${i}?quorum=3&timeoutMs=30000`, { method: "PUT", json: { value: i } }));
  await waitFor("five writes to commit", async () => (await http(`${leader.url}/status`)).body.commitOffset >= 5);
  const refused = await http(`${leader.url}/kv/w5?quorum=3`, { method: "PUT", json: { value: 5 } });
  expect([refused.status, refused.body.error, refused.body.bound]).toEqual([503, "overloaded", "waiting writes"]);
  expect((await http(`${leader.url}/status`)).body.lastOffset).toBe(5);
  followers[1]!.resume();
  followers[2]!.resume();
  expect((await Promise.all(waiting)).map((answer) => answer.body.acks)).toEqual([3, 3, 3, 3, 3]);
}, 60_000);
