import { afterEach, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Cluster, startCluster } from "../../src/cluster.ts";
import { http, waitFor } from "../helpers.ts";
import { expectConverged } from "../workload.ts";

// Issue 11, item 3: writes acknowledged under a quorum lowered at run time must survive a leader
// restart that brings back the original (higher) WRITE_QUORUM. The recovering leader has to hear
// from enough followers to meet the lowest quorum that may have acknowledged an entry.

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

/**
 * W = 3 lowered to 1 at run time; 400 writes acknowledged by one follower (the keeper) while the
 * others are paused; the keeper paused, the leader killed. `restartOthers` (with DATA_DIR): the
 * four other followers are killed too and restarted from their disks, so the floor of 1 they
 * heard survives only if they stored it. The leader, restarted with WRITE_QUORUM=3, must wait for
 * the keeper and lose nothing.
 */
async function loweredQuorumThenLeaderRestart(restartOthers: boolean): Promise<void> {
  const logDir = mkdtempSync(join(tmpdir(), "quorumkv-lowered-"));
  const dataDir = restartOthers ? mkdtempSync(join(tmpdir(), "quorumkv-lowered-data-")) : undefined;
  cluster = await startCluster({ followers: 5, writeQuorum: 3, minDelayMs: 0, maxDelayMs: 1, output: { logDir }, startTimeoutMs: 60_000, dataDir });
  const { leader, followers, token } = cluster;
  expect((await http(`${leader.url}/admin/config`, { method: "PUT", token, json: { writeQuorum: 1 } })).status).toBe(200);
  // One write everyone holds: every follower has heard from the leader since the change.
  const first = await http(`${leader.url}/kv/before`, { method: "PUT", json: { value: 0 } });
  expect(first.status).toBe(200);
  await waitFor("every follower to hold the first write", async () => {
    const offsets = await Promise.all(followers.map(async (f) => (await http(`${f.url}/status`)).body.lastOffset));
    return offsets.every((offset) => offset >= first.body.offset);
  });

  const keeper = followers[4]!;
  for (const follower of followers.slice(0, 4)) follower.pause();
  const acknowledged: { key: string; value: number }[] = [];
  for (let i = 0; i < 400; i++) {
    const answer = await http(`${leader.url}/kv/k${i}`, { method: "PUT", json: { value: i } });
    expect(answer.status).toBe(200);
    expect(answer.body.acks).toBe(1);
    acknowledged.push({ key: `k${i}`, value: i });
  }

  keeper.pause(); // the only holder of the 400 writes
  await leader.stop("SIGKILL");
  for (const follower of followers.slice(0, 4)) {
    if (!restartOthers) follower.resume();
    else {
      await follower.stop("SIGKILL");
      await follower.start();
    }
  }
  const restarted = leader.start(); // its own environment again: WRITE_QUORUM=3
  const served = restarted.then(() => "served" as const);
  // It must not serve while the only holder is away: it waits, and says why.
  const seen = await waitFor(
    "the restarted leader to wait for followers (or to serve)",
    async () => {
      if ((await Promise.race([served, Bun.sleep(0).then(() => null)])) === "served") return "served";
      return readFileSync(join(logDir, "leader.log"), "utf8").includes("recovery: waiting") ? "waiting" : null;
    },
    20_000,
    50,
  );
  expect(seen).toBe("waiting");
  keeper.resume();
  await restarted;

  const lost: string[] = [];
  for (const { key, value } of acknowledged) {
    const answer = await http(`${leader.url}/kv/${key}`);
    if (answer.status !== 200 || answer.body.value !== value) lost.push(`${key} (${answer.status})`);
  }
  expect(`${lost.length} of ${acknowledged.length} acknowledged writes lost: ${lost.slice(0, 5).join(", ")}`).toBe(
    `0 of ${acknowledged.length} acknowledged writes lost: `,
  );
  // New writes take offsets after every acknowledged one, and every node converges.
  const after = await http(`${leader.url}/kv/after`, { method: "PUT", json: { value: 1 } });
  expect(after.status).toBe(200);
  expect(after.body.offset).toBeGreaterThan(first.body.offset + 400);
  await expectConverged(cluster);
}

test("writes acknowledged at a lowered quorum survive a leader restart with the original quorum", () => loweredQuorumThenLeaderRestart(false), 120_000);

test(
  "with DATA_DIR the lowered floor survives the followers' restart too: a leader restarted after them still waits for the only holder",
  () => loweredQuorumThenLeaderRestart(true),
  120_000,
);
