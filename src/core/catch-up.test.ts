import { expect, test } from "bun:test";
import { constants } from "./constants.ts";
import { FollowerCore } from "./follower.ts";
import { epochMarkerKey, LeaderCore } from "./leader.ts";
import { leaderReady } from "./leader-ready.ts";
import { StateMachine } from "./state-machine.ts";
import type { ReplicateMessage } from "./types.ts";

const heartbeatMs = 50;

/**
 * Delivers every message the leader wants to send to each follower (index i), in order, until
 * quiet; then, as the node's pump wakes, at the time a commit no batch carried is due.
 */
function deliverAll(leader: LeaderCore, followers: FollowerCore[], startMs: number): void {
  let nowMs = startMs;
  for (let round = 0; round < 10_000; round++) {
    let sent = false;
    followers.forEach((follower, index) => {
      const messages = leader.takeMessages(index, nowMs, heartbeatMs);
      const chunk = leader.takeSnapshotChunk(index, nowMs);
      for (const message of messages) leader.onReply(index, follower.receive(message), nowMs);
      if (chunk) leader.onSnapshotReply(index, follower.receiveSnapshot(chunk), nowMs);
      sent ||= messages.length > 0 || chunk !== null;
    });
    if (sent) continue;
    const dueMs = leader.commitAnnounceDueMs(nowMs);
    if (dueMs === Number.POSITIVE_INFINITY) return;
    expect(dueMs).toBeGreaterThan(nowMs);
    nowMs = dueMs;
  }
  throw new Error("replication did not settle");
}

test("the leader keeps at most logRetention entries, dropping only committed ones", () => {
  const leader = new LeaderCore({ id: "L", epoch: 1, followerCount: 1, writeQuorum: 1, logRetention: 10 });
  const follower = new FollowerCore();
  for (let i = 1; i <= 100; i++) {
    leader.propose(`k${i % 7}`, String(i));
    deliverAll(leader, [follower], i);
    expect(leader.log.length).toBeLessThanOrEqual(10);
  }
  expect(leader.log.firstOffset).toBe(91);
  // With the follower gone, nothing commits (quorum 1), so nothing uncommitted is dropped.
  for (let i = 0; i < 30; i++) leader.propose("late", String(i));
  expect(leader.log.length).toBe(40);
  expect(leader.log.firstOffset).toBe(91);
});

test("a follower that needs dropped entries gets a snapshot in chunks, then the log after it", () => {
  const leader = new LeaderCore({ id: "L", epoch: 1, followerCount: 2, writeQuorum: 1, logRetention: 20 });
  const healthy = new FollowerCore();
  for (let i = 1; i <= 500; i++) {
    leader.propose(`key-${i % 150}`, JSON.stringify("v".repeat(40_000) + i)); // big values: several chunks
    const now = i;
    for (const message of leader.takeMessages(0, now, heartbeatMs)) leader.onReply(0, healthy.receive(message), now);
  }
  expect(leader.commitOffset).toBe(500);
  expect(leader.log.firstOffset).toBeGreaterThan(1);

  // Follower 1 starts empty: its first heartbeat answer is gap 0, then it needs a snapshot.
  const fresh = new FollowerCore();
  const chunks: number[] = [];
  let now = 1000;
  for (let round = 0; round < 1000 && fresh.appliedOffset < 500; round++, now += 60) {
    for (const message of leader.takeMessages(1, now, heartbeatMs)) leader.onReply(1, fresh.receive(message), now);
    const chunk = leader.takeSnapshotChunk(1, now);
    if (chunk) {
      chunks.push(chunk.pairs.length);
      expect(chunk.pairs.length).toBeLessThan(150); // never the whole state in one message
      leader.onSnapshotReply(1, fresh.receiveSnapshot(chunk), now);
    }
  }
  expect(chunks.length).toBeGreaterThan(1);
  expect(leader.followers[1]!.fullResyncs).toBe(1);
  expect(fresh.snapshotsInstalled).toBe(1);
  expect(fresh.state.digest()).toEqual(leader.state.digest());

  // New writes flow to it afterwards as log entries.
  leader.propose("after", '"snapshot"');
  for (let round = 0; round < 5; round++, now += 60) {
    for (const message of leader.takeMessages(1, now, heartbeatMs)) leader.onReply(1, fresh.receive(message), now);
  }
  expect(fresh.state.get("after")?.value).toBe('"snapshot"');
  expect(leader.followers[1]!.state).toBe("streaming");
});

test("a snapshot chunk out of order starts the snapshot over, and the result is still exact", () => {
  const leader = new LeaderCore({ id: "L", epoch: 1, followerCount: 1, writeQuorum: 0, logRetention: 1 });
  for (let i = 0; i < 50; i++) leader.propose(`k${i}`, JSON.stringify("x".repeat(300_000)));
  const follower = new FollowerCore();
  leader.takeMessages(0, 0, heartbeatMs); // decides on a snapshot
  const first = leader.takeSnapshotChunk(0, 0)!;
  expect(first.chunk).toBe(0);
  leader.onSnapshotReply(0, follower.receiveSnapshot(first), 1);
  const second = leader.takeSnapshotChunk(0, 1)!;
  // Lost: the leader times out, then resends from chunk 0; a stray later chunk is refused.
  leader.onFailure(0, 2);
  expect(follower.receiveSnapshot({ ...second, chunk: 5 })).toMatchObject({ kind: "gap" });
  deliverAll(leader, [follower], 1000);
  expect(follower.state.digest()).toEqual(leader.state.digest());
});

test("a leader restarted from a follower's state and log keeps every entry and commits the held ones again", () => {
  const first = new LeaderCore({ id: "L", epoch: 1, followerCount: 2, writeQuorum: 2 });
  const followers = [new FollowerCore(), new FollowerCore()];
  for (let i = 1; i <= 10; i++) first.propose(`k${i % 4}`, String(i));
  for (const [index, follower] of followers.entries()) {
    for (const message of first.takeMessages(index, 0, heartbeatMs)) first.onReply(index, follower.receive(message), 0);
  }
  expect(first.commitOffset).toBe(10);
  // Followers learned commit 0 only (the leader died before announcing 10): 10 entries pending.
  expect(followers[0]!.appliedOffset).toBe(0);
  const source = followers[0]!;
  const second = new LeaderCore({
    id: "L",
    epoch: 2,
    followerCount: 2,
    writeQuorum: 2,
    recovered: { state: StateMachine.restore(source.appliedOffset, source.state.appliedEpoch, source.state.snapshotPairs()), entries: source.pendingEntries() },
  });
  // The ten recovered entries, then a marker of epoch 2 that reads wait for.
  expect(second.lastOffset).toBe(11);
  expect(second.log.at(11)).toMatchObject({ epoch: 2, key: epochMarkerKey, value: null });
  expect(second.readBarrierOffset).toBe(11);
  expect(second.commitOffset).toBe(0);
  second.propose("k-new", "12");
  for (let round = 0; round < 5; round++) {
    for (const [index, follower] of followers.entries()) {
      for (const message of second.takeMessages(index, round * 100, heartbeatMs)) second.onReply(index, follower.receive(message), round * 100);
    }
  }
  expect(second.commitOffset).toBe(12);
  for (const [key, stored] of first.state.entries()) expect(second.state.get(key)).toMatchObject(stored);
  expect(second.state.get("k-new")?.offset).toBe(12);
  expect(second.state.get(epochMarkerKey)).toBeUndefined();
  for (const follower of followers) expect(follower.state.get("k2")?.value).toBe("10");
});

test("entries of an older epoch commit only with one of the leader's own epoch", () => {
  const held = new FollowerCore();
  const old = new LeaderCore({ id: "L", epoch: 1, followerCount: 1, writeQuorum: 1 });
  for (let i = 0; i < 3; i++) old.propose("k", String(i));
  for (const message of old.takeMessages(0, 0, heartbeatMs)) held.receive({ ...message, commitOffset: 0 });
  const leader = new LeaderCore({
    id: "L",
    epoch: 2,
    followerCount: 2,
    writeQuorum: 2,
    recovered: { state: new StateMachine(), entries: held.pendingEntries() },
  });
  // Both followers acknowledge the three old entries only: not enough to commit them.
  leader.followers.forEach((progress) => {
    progress.state = "streaming";
    progress.inflightMessages = 2; // the two messages answered below
  });
  leader.onReply(0, { kind: "ok", lastOffset: 3, incarnation: 0 }, 1);
  leader.onReply(1, { kind: "ok", lastOffset: 3, incarnation: 0 }, 1);
  expect(leader.commitOffset).toBe(0);
  // Once both hold the marker of epoch 2, everything up to it commits.
  leader.onReply(0, { kind: "ok", lastOffset: 4, incarnation: 0 }, 2);
  leader.onReply(1, { kind: "ok", lastOffset: 4, incarnation: 0 }, 2);
  expect(leader.commitOffset).toBe(4);
  expect(leader.state.get("k")?.value).toBe("2");
});

test("a reply from a follower process that has since restarted does not count", () => {
  const leader = new LeaderCore({ id: "L", epoch: 1, followerCount: 1, writeQuorum: 1 });
  for (let i = 0; i < 4; i++) leader.propose("k", String(i));
  const [first] = leaderReady(leader, 0, heartbeatMs).messages;
  leader.onReply(0, { kind: "ok", lastOffset: 0, incarnation: 100 }, 1, first!.sequence);
  // Message 2 went out after the leader knew process 100: another incarnation answering it is a restart.
  const [second] = leaderReady(leader, 1, heartbeatMs).messages;
  leader.onReply(0, { kind: "ok", lastOffset: 0, incarnation: 200 }, 2, second!.sequence);
  // The old process's late answer to the first message (whose send a duplicate made count twice):
  // incarnations are random, so only the message it answers tells that it is older. Ignored.
  leader.followers[0]!.inflightMessages = 1;
  expect(leader.onReply(0, { kind: "ok", lastOffset: 4, incarnation: 100 }, 3, first!.sequence)).toBe(false);
  expect(leader.followers[0]!).toMatchObject({ matchOffset: 0, incarnation: 200 });
  expect(leader.commitOffset).toBe(0);
  // The first answer of a restarted process resets what the leader believes it holds.
  leader.followers[0]!.matchOffset = 3;
  const [third] = leaderReady(leader, 60, heartbeatMs).messages;
  leader.onReply(0, { kind: "ok", lastOffset: 1, incarnation: 300 }, 4, third!.sequence);
  expect(leader.followers[0]!).toMatchObject({ matchOffset: 1, nextOffset: 2, incarnation: 300 });
});

test("a recovered leader catches up a follower behind its log without waiting for a new write", () => {
  const source = new FollowerCore();
  const first = new LeaderCore({ id: "L", epoch: 1, followerCount: 1, writeQuorum: 1 });
  for (let i = 0; i < 5; i++) first.propose(`k${i}`, String(i));
  for (const message of first.takeMessages(0, 0, heartbeatMs)) source.receive(message);
  const leader = new LeaderCore({
    id: "L",
    epoch: 2,
    followerCount: 2,
    writeQuorum: 2,
    recovered: { state: new StateMachine(), entries: source.pendingEntries() },
  });
  const empty = [new FollowerCore(1), new FollowerCore(2)];
  deliverAll(leader, empty, 0);
  expect(leader.commitOffset).toBe(6); // the five taken over and the marker
  for (const follower of empty) expect(follower.state.digest()).toEqual(leader.state.digest());
});

test("a clock that steps back neither stretches a backoff nor silences heartbeats", () => {
  const leader = new LeaderCore({ id: "L", epoch: 1, followerCount: 1, writeQuorum: 1 });
  leader.propose("k", "1");
  expect(leader.takeMessages(0, 1000, heartbeatMs)).toHaveLength(1);
  leader.onFailure(0, 1000); // backoff until 1050 on the old clock
  // The clock steps back by a second: the backoff still ends retryBackoffMs from now, not 1 s later.
  expect(leader.takeMessages(0, 10, heartbeatMs)).toHaveLength(0);
  const [probe] = leader.takeMessages(0, 10 + constants.retryBackoffMs, heartbeatMs);
  expect(probe?.entries.map((entry) => entry.offset)).toEqual([1]);
  leader.onReply(0, { kind: "ok", lastOffset: 1, incarnation: 1 }, 70);
  expect(leader.takeMessages(0, 70 + constants.commitAnnounceQuietMs, heartbeatMs)).toHaveLength(1); // the new commit announced
  leader.onReply(0, { kind: "ok", lastOffset: 1, incarnation: 1 }, 72);
  // Another step back, below the last send: the follower is idle, so it gets a heartbeat.
  expect(leader.takeMessages(0, 65, heartbeatMs)).toHaveLength(1);
});

test("a snapshot keeps the entries held beyond it when the log agrees at its offset: they may be acknowledged writes", () => {
  // The follower holds 1..7 of epoch 1 and applied 3; a new leader whose log starts after 5 sends
  // its committed state at 5. Entries 6 and 7 may have been acknowledged by the old leader with this
  // follower's ack: dropping them would lose them.
  const follower = new FollowerCore();
  const held = Array.from({ length: 7 }, (_, i) => ({ offset: i + 1, epoch: 1, key: `k${i + 1}`, value: `${i + 1}` }));
  follower.receive({ epoch: 1, leaderId: "L1", prevOffset: 0, prevEpoch: 0, entries: held, commitOffset: 3 });
  const pairs = held.slice(0, 5).map((entry): [string, string, number] => [entry.key, entry.value, entry.offset]);
  const chunk = { epoch: 2, leaderId: "L2", snapshotOffset: 5, snapshotEpoch: 1, chunk: 0, pairs, done: true, commitOffset: 5 };
  expect(follower.receiveSnapshot(chunk)).toMatchObject({ kind: "ok", lastOffset: 5 });
  expect(follower.appliedOffset).toBe(5);
  expect(follower.lastOffset).toBe(7);
  expect(follower.pendingEntries().map((entry) => entry.offset)).toEqual([6, 7]);
  // Where the log disagrees at the snapshot's offset, nothing beyond it is kept.
  const other = new FollowerCore();
  other.receive({ epoch: 1, leaderId: "L1", prevOffset: 0, prevEpoch: 0, entries: held, commitOffset: 3 });
  expect(other.receiveSnapshot({ ...chunk, snapshotEpoch: 2 })).toMatchObject({ kind: "ok", lastOffset: 5 });
  expect(other.lastOffset).toBe(5);
  expect(other.pendingEntries()).toEqual([]);
});
