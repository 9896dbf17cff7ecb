import { afterEach, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Cluster, startCluster } from "../../src/cluster.ts";
import { parseConfig } from "../../src/config.ts";
import { createApp } from "../../src/http/app.ts";
import type { ReplicateMessage, ReplicateReply } from "../../src/core/types.ts";
import { productionFollowerEnv } from "../../src/node/env.ts";
import { FollowerNode } from "../../src/node/follower-node.ts";
import { http, waitFor } from "../helpers.ts";
import { expectConverged } from "../workload.ts";

// Issue 11, item 3 "Also": a follower that comes back holding applied writes the new leader does
// not have (asynchronous mode: the restarted leader gave up waiting for it) must be set apart —
// never counted, never serving reads of the new leader's offsets — and repaired by snapshot.

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

const statusOf = async (url: string) => (await http(`${url}/status`)).body;

test("a returning follower with writes the new leader lacks is diverged, serves none of them, and is repaired by snapshot", async () => {
  cluster = await startCluster({
    followers: 5,
    writeQuorum: 0,
    minDelayMs: 0,
    maxDelayMs: 1,
    startTimeoutMs: 60_000,
    output: { logDir: mkdtempSync(join(tmpdir(), "quorumkv-diverged-")) },
  });
  const { leader, followers } = cluster;
  const first = await http(`${leader.url}/kv/before`, { method: "PUT", json: { value: 0 } });
  expect(first.status).toBe(200);
  await waitFor("every follower to apply the first write", async () => {
    const applied = await Promise.all(followers.map(async (f) => (await statusOf(f.url)).appliedOffset));
    return applied.every((offset) => offset >= first.body.offset);
  });

  const returning = followers[4]!;
  // Stopped, not paused: a paused process would still read the frames its kernel buffered.
  await Promise.all(followers.slice(0, 4).map((follower) => follower.stop("SIGKILL")));
  let lastOld = 0;
  for (let i = 0; i < 100; i++) {
    const answer = await http(`${leader.url}/kv/old-${i}`, { method: "PUT", json: { value: i } });
    expect(answer.status).toBe(200);
    lastOld = answer.body.offset;
  }
  await waitFor("the returning follower to apply the old writes", async () => (await statusOf(returning.url)).appliedOffset >= lastOld);

  returning.pause();
  await leader.stop("SIGKILL");
  await Promise.all(followers.slice(0, 4).map((follower) => follower.start())); // empty
  await leader.start(); // asynchronous mode: it gives up waiting for the paused one (lossy, logged)
  const fresh: { key: string; offset: number }[] = [];
  for (let i = 0; i < 150; i++) {
    const answer = await http(`${leader.url}/kv/new-${i}`, { method: "PUT", json: { value: i } });
    expect(answer.status).toBe(200);
    fresh.push({ key: `new-${i}`, offset: answer.body.offset });
  }
  expect(fresh[0]!.offset).toBeLessThanOrEqual(lastOld); // the new leader reuses offsets the returning follower applied

  returning.resume();
  // Once it has heard of the new leader (before, nothing tells it its history was replaced: it
  // may first read what its kernel buffered from the dead one), it answers 503 stale_read until
  // repaired, and never 404 for a write of the new leader.
  const newEpoch = (await statusOf(leader.url)).epoch;
  await waitFor("the returning follower to hear of the new leader", async () => (await statusOf(returning.url)).epoch === newEpoch);
  const seen = new Set<string>();
  for (const { key, offset } of fresh) {
    await waitFor(`${key} on the returning follower`, async () => {
      const answer = await http(`${returning.url}/kv/${key}?minOffset=${offset}`);
      seen.add(`${answer.status} ${answer.body.error ?? ""} ${answer.body.reason ?? ""}`.trim());
      if (answer.status === 404) throw new Error(`${key} answered 404 at minOffset=${offset}`);
      return answer.status === 200 && answer.body.value === Number(key.slice(4));
    });
  }
  expect([...seen].filter((s) => s !== "200" && !s.startsWith("503 stale_read"))).toEqual([]);
  await expectConverged(cluster);
  const view = (await statusOf(leader.url)).followers[4];
  expect(view.lastFullResyncReason).toContain("diverged");
  expect(view.state).not.toBe("diverged");
  expect((await statusOf(returning.url)).snapshotsInstalled).toBeGreaterThanOrEqual(1);
}, 120_000);

test("a diverged follower answers every read 503 stale_read (reason diverged) until a snapshot repairs it", async () => {
  const config = parseConfig({ ROLE: "follower", CLUSTER_TOKEN: "test-token-0123456789", NODE_ID: "f" });
  const node = new FollowerNode(config, productionFollowerEnv());
  const app = createApp(node);
  const replicate = (message: ReplicateMessage) => new Promise<ReplicateReply>((resolve) => node.replicate(message, resolve));
  const entry = (offset: number, epoch: number, value: string) => ({ offset, epoch, key: "k", value });
  await replicate({ epoch: 1, leaderId: "L1", prevOffset: 0, prevEpoch: 0, entries: [entry(1, 1, '"old"')], commitOffset: 1 });
  expect((await app.request("/kv/k")).status).toBe(200);
  // Leader 2 lost offset 1 (asynchronous mode) and wrote its own there.
  const reply = await replicate({ epoch: 2, leaderId: "L2", prevOffset: 0, prevEpoch: 0, entries: [entry(1, 2, '"new"')], commitOffset: 1 });
  expect(reply).toMatchObject({ kind: "gap", diverged: true });
  for (const path of ["/kv/k", "/kv/k?minOffset=1", "/get/k"]) {
    const answer = await app.request(path);
    expect([answer.status, await answer.json()]).toEqual([503, expect.objectContaining({ error: "stale_read", reason: "diverged" })]);
  }
  expect(node.status()).toMatchObject({ diverged: true });
  node.receiveSnapshot(
    { epoch: 2, leaderId: "L2", snapshotOffset: 1, snapshotEpoch: 2, chunk: 0, pairs: [["k", '"new"', 1]], done: true, commitOffset: 1 },
    () => {},
  );
  const answer = await app.request("/kv/k?minOffset=1");
  expect([answer.status, await answer.json()]).toEqual([200, { key: "k", value: "new", offset: 1 }]);
  node.stop();
});
