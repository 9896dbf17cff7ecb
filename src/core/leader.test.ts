import { expect, test } from "bun:test";
import { constants } from "./constants.ts";
import { LeaderCore } from "./leader.ts";
import { StateMachine } from "./state-machine.ts";

const heartbeatMs = 50;

function leaderWith(followerCount: number, writeQuorum: number) {
  return new LeaderCore({ id: "leader", epoch: 1, followerCount, writeQuorum });
}

test("a write commits and becomes visible only once the quorum acked it", () => {
  const leader = leaderWith(3, 2);
  const entry = leader.propose("a", '"x"');
  expect(entry.offset).toBe(1);
  expect(leader.state.get("a")).toBeUndefined();
  const [toFirst] = leader.takeMessages(0, 0, heartbeatMs);
  expect(toFirst?.entries.map((e) => e.offset)).toEqual([1]);
  expect(leader.onReply(0, { kind: "ok", lastOffset: 1, incarnation: 0 }, 1)).toBe(false);
  expect(leader.commitOffset).toBe(0);
  expect(leader.state.get("a")).toBeUndefined();
  leader.takeMessages(1, 0, heartbeatMs);
  expect(leader.onReply(1, { kind: "ok", lastOffset: 1, incarnation: 0 }, 2)).toBe(true);
  expect(leader.commitOffset).toBe(1);
  expect(leader.state.get("a")?.value).toBe('"x"');
  expect(leader.ackCount(1)).toBe(2);
});

test("quorum 0 commits at once", () => {
  const leader = leaderWith(2, 0);
  leader.propose("a", "1");
  expect(leader.commitOffset).toBe(1);
  expect(leader.state.get("a")?.offset).toBe(1);
});

test("writes pending together travel in one message; streaming pipelines up to the bound", () => {
  const leader = leaderWith(1, 1);
  for (let i = 0; i < 3; i++) leader.propose("k", String(i));
  const probe = leader.takeMessages(0, 0, heartbeatMs);
  expect(probe).toHaveLength(1); // probe state: one message until the follower answers
  expect(probe[0]!.entries).toHaveLength(3);
  expect(probe[0]!.prevOffset).toBe(0);
  leader.onReply(0, { kind: "ok", lastOffset: 3, incarnation: 0 }, 1);
  for (let round = 0; round < constants.inflightMessagesMax + 2; round++) {
    leader.propose("k", "x");
    const sent = leader.takeMessages(0, 2, heartbeatMs);
    expect(sent).toHaveLength(round < constants.inflightMessagesMax ? 1 : 0);
  }
});

test("a gap reply rewinds to the follower's own offset", () => {
  const leader = leaderWith(1, 1);
  for (let i = 0; i < 5; i++) leader.propose("k", String(i));
  leader.takeMessages(0, 0, heartbeatMs);
  leader.onReply(0, { kind: "ok", lastOffset: 5, incarnation: 0 }, 1);
  expect(leader.followers[0]!.matchOffset).toBe(5);
  // The follower restarted empty and says so on the next heartbeat.
  const [heartbeat] = leader.takeMessages(0, 100, heartbeatMs);
  expect(heartbeat?.entries).toEqual([]);
  expect(heartbeat?.prevOffset).toBe(5);
  leader.onReply(0, { kind: "gap", lastOffset: 0, incarnation: 0 }, 101);
  expect(leader.followers[0]!.matchOffset).toBe(0);
  expect(leader.commitOffset).toBe(5); // commit never goes back
  const [resend] = leader.takeMessages(0, 102, heartbeatMs);
  expect(resend?.prevOffset).toBe(0);
  expect(resend?.entries.map((e) => e.offset)).toEqual([1, 2, 3, 4, 5]);
});

test("a failed message backs off, then resends from the acked offset", () => {
  const leader = leaderWith(1, 1);
  leader.propose("a", "1");
  leader.takeMessages(0, 0, heartbeatMs);
  leader.onReply(0, { kind: "ok", lastOffset: 1, incarnation: 0 }, 1);
  leader.propose("b", "2");
  leader.propose("c", "3");
  leader.takeMessages(0, 2, heartbeatMs);
  leader.onFailure(0, 3);
  expect(leader.takeMessages(0, 3 + constants.retryBackoffMs - 1, heartbeatMs)).toEqual([]);
  const [retry] = leader.takeMessages(0, 3 + constants.retryBackoffMs, heartbeatMs);
  expect(retry?.prevOffset).toBe(1);
  expect(retry?.entries.map((e) => e.key)).toEqual(["b", "c"]);
});

test("an idle follower gets heartbeats carrying the commit offset", () => {
  const leader = leaderWith(2, 1);
  const quietMs = constants.commitAnnounceQuietMs;
  leader.propose("a", "1");
  leader.takeMessages(0, 0, heartbeatMs);
  leader.takeMessages(1, 0, heartbeatMs);
  leader.onReply(0, { kind: "ok", lastOffset: 1, incarnation: 0 }, 1);
  // Follower 1 has not answered yet (its answer brings the next pump); follower 0 is idle but has
  // not heard commit 1: it is told once its link has been quiet for quietMs since the answer.
  expect(leader.commitAnnounceDueMs(1)).toBe(1 + quietMs);
  expect(leader.takeMessages(0, 1 + quietMs / 2, heartbeatMs)).toEqual([]);
  const [announce] = leader.takeMessages(0, 1 + quietMs, heartbeatMs);
  expect(announce).toMatchObject({ entries: [], commitOffset: 1, prevOffset: 1 });
  expect(leader.commitAnnounceDueMs(1 + quietMs)).toBe(Number.POSITIVE_INFINITY);
  leader.onReply(0, { kind: "ok", lastOffset: 1, incarnation: 0 }, 3 + quietMs);
  expect(leader.takeMessages(0, 4 + quietMs, heartbeatMs)).toEqual([]);
  expect(leader.takeMessages(0, 3 + quietMs + heartbeatMs, heartbeatMs)).toHaveLength(1);
});

test("a commit made while writes go on rides on the next batch; one made as they stop is announced once the link is quiet", () => {
  const leader = leaderWith(1, 1);
  const quietMs = constants.commitAnnounceQuietMs;
  leader.propose("a", "1");
  leader.takeMessages(0, 0, heartbeatMs);
  leader.onReply(0, { kind: "ok", lastOffset: 1, incarnation: 0 }, 1);
  expect(leader.commitOffset).toBe(1);
  leader.propose("b", "2");
  const [batch] = leader.takeMessages(0, 1.5, heartbeatMs);
  expect(batch).toMatchObject({ commitOffset: 1, entries: [{ key: "b" }] });
  // Nothing to announce while the batch is in flight: its answer brings the next pump.
  expect(leader.commitAnnounceDueMs(1.5)).toBe(Number.POSITIVE_INFINITY);
  leader.onReply(0, { kind: "ok", lastOffset: 2, incarnation: 0 }, 2);
  expect(leader.takeMessages(0, 2, heartbeatMs)).toEqual([]);
  expect(leader.commitAnnounceDueMs(2)).toBe(2 + quietMs);
  const [commit] = leader.takeMessages(0, 2 + quietMs, heartbeatMs);
  expect(commit).toMatchObject({ commitOffset: 2, entries: [] });
});

test("a follower paused after a failure is due no announcement: its retry carries the commit", () => {
  const leader = leaderWith(2, 1);
  const quietMs = constants.commitAnnounceQuietMs;
  leader.propose("a", "1");
  leader.takeMessages(0, 0, heartbeatMs);
  leader.takeMessages(1, 0, heartbeatMs);
  leader.onFailure(1, 1);
  leader.onReply(0, { kind: "ok", lastOffset: 1, incarnation: 0 }, 1);
  expect(leader.commitAnnounceDueMs(1)).toBe(1 + quietMs); // follower 0's, not the paused one's (already past)
  expect(leader.takeMessages(0, 1 + quietMs, heartbeatMs)).toHaveLength(1);
  expect(leader.commitAnnounceDueMs(1 + quietMs)).toBe(Number.POSITIVE_INFINITY);
  const [retry] = leader.takeMessages(1, 1 + constants.retryBackoffMs, heartbeatMs);
  expect(retry).toMatchObject({ commitOffset: 1, entries: [{ key: "a" }] });
});

test("a lowered write quorum takes effect once the change is held by the current quorum", () => {
  const leader = leaderWith(3, 3);
  leader.propose("a", "1");
  leader.takeMessages(0, 0, heartbeatMs);
  leader.onReply(0, { kind: "ok", lastOffset: 1, incarnation: 0 }, 1);
  expect(leader.commitOffset).toBe(0);
  const marker = leader.setWriteQuorum(1);
  expect(marker).toMatchObject({ offset: 2, key: "", value: null });
  // Not yet in force: offset 1 is held by one follower only, and still waits for three.
  expect(leader.writeQuorum).toBe(3);
  expect(leader.pendingWriteQuorum).toBe(1);
  expect(leader.commitOffset).toBe(0);
  // Every message from now on carries the lowered floor.
  const [message] = leader.takeMessages(1, 2, heartbeatMs);
  expect(message?.writeQuorumFloor).toBe(1);
  for (const index of [0, 1, 2]) {
    leader.takeMessages(index, 3, heartbeatMs);
    leader.onReply(index, { kind: "ok", lastOffset: 2, incarnation: 0 }, 4);
  }
  expect(leader.writeQuorum).toBe(1);
  expect(leader.pendingWriteQuorum).toBeNull();
  expect(leader.commitOffset).toBe(2);
  expect(leader.writeQuorumFloor).toBe(1);
  // An entry acknowledged by one follower under quorum 1 keeps the floor at 1 after raising it.
  leader.propose("b", "2");
  leader.takeMessages(0, 5, heartbeatMs);
  leader.onReply(0, { kind: "ok", lastOffset: 3, incarnation: 0 }, 6);
  expect(leader.commitOffset).toBe(3);
  expect(leader.setWriteQuorum(3)).toBeNull(); // raising is immediate
  expect(leader.writeQuorum).toBe(3);
  expect(leader.writeQuorumFloor).toBe(1);
  for (const index of [1, 2]) {
    leader.takeMessages(index, 7, heartbeatMs);
    leader.onReply(index, { kind: "ok", lastOffset: 3, incarnation: 0 }, 8);
  }
  // Held everywhere: no entry depends on a lower quorum than the one in force.
  expect(leader.writeQuorumFloor).toBe(3);
  expect(() => leader.setWriteQuorum(4)).toThrow();
});

test("a recovered leader keeps the floor it recovered until its log is held everywhere", () => {
  const recovered = { state: new StateMachine(), entries: [{ offset: 1, epoch: 1, key: "a", value: "1" }] };
  const leader = new LeaderCore({ id: "leader", epoch: 2, followerCount: 3, writeQuorum: 3, writeQuorumFloor: 1, recovered });
  expect(leader.writeQuorumFloor).toBe(1);
  expect(leader.takeMessages(0, 0, heartbeatMs)[0]?.writeQuorumFloor).toBe(1);
  leader.onReply(0, { kind: "ok", lastOffset: 2, incarnation: 0 }, 1);
  leader.takeMessages(1, 1, heartbeatMs);
  leader.onReply(1, { kind: "ok", lastOffset: 2, incarnation: 0 }, 2);
  expect(leader.writeQuorumFloor).toBe(1);
  leader.takeMessages(2, 1, heartbeatMs);
  leader.onReply(2, { kind: "ok", lastOffset: 2, incarnation: 0 }, 2);
  expect(leader.writeQuorumFloor).toBe(3);
});

test("a follower that holds more than the leader's log is set apart, not counted", () => {
  const leader = leaderWith(2, 1);
  leader.propose("a", "1");
  leader.takeMessages(0, 0, heartbeatMs);
  expect(leader.onReply(0, { kind: "ok", lastOffset: 7, incarnation: 0 }, 1)).toBe(false);
  expect(leader.followers[0]!).toMatchObject({ diverged: true, matchOffset: 0 });
  expect(leader.commitOffset).toBe(0);
  expect(leader.takeMessages(0, 1000, heartbeatMs)).toEqual([]);
});

test("a diverged follower is not counted and gets a snapshot once the leader's state reaches its offset", () => {
  const leader = leaderWith(2, 1);
  leader.propose("a", "1");
  leader.takeMessages(0, 0, heartbeatMs);
  leader.onReply(0, { kind: "ok", lastOffset: 1, incarnation: 0 }, 1);
  expect(leader.commitOffset).toBe(1);
  leader.takeMessages(1, 0, heartbeatMs);
  leader.onReply(1, { kind: "gap", lastOffset: 3, incarnation: 0, diverged: true }, 1);
  expect(leader.followers[1]).toMatchObject({ diverged: true, matchOffset: 0, state: "snapshot" });
  expect(leader.ackCount(1)).toBe(1);
  expect(leader.takeSnapshotChunk(1, 100)).toBeNull(); // its applied 3 is ahead of this state (1)
  for (const value of ["2", "3"]) leader.propose("a", value);
  leader.takeMessages(0, 100, heartbeatMs);
  leader.onReply(0, { kind: "ok", lastOffset: 3, incarnation: 0 }, 101);
  const chunk = leader.takeSnapshotChunk(1, 102);
  expect(chunk).toMatchObject({ snapshotOffset: 3, pairs: [["a", "3", 3]], done: true });
  leader.onSnapshotReply(1, { kind: "ok", lastOffset: 3, incarnation: 0 }, 103);
  expect(leader.followers[1]).toMatchObject({ diverged: false, matchOffset: 3 });
});

test("a probe asks at the leader's guess; a gap beyond the leader's log asks again at its end", () => {
  const leader = leaderWith(1, 1);
  for (let i = 0; i < 3; i++) leader.propose("k", String(i));
  leader.takeMessages(0, 0, heartbeatMs);
  leader.onReply(0, { kind: "gap", lastOffset: 9, incarnation: 0 }, 1);
  const [probe] = leader.takeMessages(0, 100, heartbeatMs);
  expect(probe).toMatchObject({ prevOffset: 3, prevEpoch: 1, entries: [] });
});

test("a stale_epoch answer deposes the leader: it takes no more writes", () => {
  const leader = leaderWith(2, 1);
  leader.propose("a", "1");
  leader.takeMessages(0, 0, heartbeatMs);
  expect(leader.deposedBy).toBeNull();
  leader.onReply(0, { kind: "stale_epoch", epoch: 7 }, 1);
  expect(leader.deposedBy).toBe(7);
  expect(leader.takeMessages(0, 1000, heartbeatMs)).toEqual([]);
  expect(() => leader.propose("b", "2")).toThrow();
});

test("a restarted follower with a smaller incarnation number is still a new process; the old one's late replies are ignored", () => {
  const leader = leaderWith(1, 1);
  for (let i = 0; i < 3; i++) leader.propose("k", String(i));
  leader.takeMessages(0, 0, heartbeatMs);
  leader.onReply(0, { kind: "ok", lastOffset: 3, incarnation: 900 }, 1);
  expect(leader.followers[0]!.matchOffset).toBe(3);
  // The process restarted empty with a smaller random number (a clock stepped back would too).
  leader.takeMessages(0, 100, heartbeatMs);
  leader.onReply(0, { kind: "gap", lastOffset: 0, incarnation: 17 }, 101);
  expect(leader.followers[0]).toMatchObject({ incarnation: 17, matchOffset: 0, state: "probe" });
  // A late reply of the old process (to a message still in flight) claims offset 3: not counted.
  leader.followers[0]!.inflightMessages++;
  leader.onReply(0, { kind: "ok", lastOffset: 3, incarnation: 900 }, 102);
  expect(leader.followers[0]!.matchOffset).toBe(0);
  expect(leader.ackCount(3)).toBe(0);
  leader.takeMessages(0, 200, heartbeatMs);
  leader.onReply(0, { kind: "ok", lastOffset: 3, incarnation: 17 }, 201);
  expect(leader.followers[0]!.matchOffset).toBe(3);
});

test("every answer settles one message in flight; an answer to none is a broken invariant", () => {
  const leader = leaderWith(1, 1);
  leader.propose("a", "1");
  expect(leader.takeMessages(0, 0, heartbeatMs)).toHaveLength(1);
  expect(leader.followers[0]!.inflightMessages).toBe(1);
  leader.onFailure(0, 1);
  expect(leader.followers[0]!.inflightMessages).toBe(0);
  expect(() => leader.onReply(0, { kind: "ok", lastOffset: 1, incarnation: 0 }, 2)).toThrow(/in flight/);
});

test("uncommitted entries are bounded: no write beyond uncommittedEntriesMax until some commit", () => {
  const leader = new LeaderCore({ id: "L", epoch: 1, followerCount: 1, writeQuorum: 1, uncommittedEntriesMax: 2 });
  leader.propose("a", "1");
  expect(leader.canPropose()).toBe(true);
  leader.propose("a", "2");
  expect([leader.uncommittedEntries, leader.canPropose()]).toEqual([2, false]);
  expect(() => leader.propose("a", "3")).toThrow(/bound/);
  leader.takeMessages(0, 0, heartbeatMs);
  leader.onReply(0, { kind: "ok", lastOffset: 2, incarnation: 0 }, 1);
  expect([leader.uncommittedEntries, leader.canPropose()]).toEqual([0, true]);
});

test("entriesSent counts the entries of every message to a follower, again when re-sent after a failure; a heartbeat adds a message and no entry", () => {
  const leader = leaderWith(1, 1);
  for (let i = 0; i < 3; i++) leader.propose("k", String(i));
  const progress = leader.followers[0]!;
  expect(leader.takeMessages(0, 0, heartbeatMs).flatMap((m) => m.entries)).toHaveLength(3);
  expect([progress.sentCount, progress.entriesSent]).toEqual([1, 3]);
  leader.onFailure(0, 1);
  const resent = leader.takeMessages(0, 1 + constants.retryBackoffMs, heartbeatMs);
  expect(resent.flatMap((m) => m.entries)).toHaveLength(3);
  expect([progress.sentCount, progress.entriesSent]).toEqual([2, 6]);
  leader.onReply(0, { kind: "ok", lastOffset: 3, incarnation: 0 }, 2 + constants.retryBackoffMs);
  const later = 2 + constants.retryBackoffMs + heartbeatMs;
  expect(leader.takeMessages(0, later, heartbeatMs).map((m) => m.entries.length)).toEqual([0]);
  expect([progress.sentCount, progress.entriesSent]).toEqual([3, 6]);
});
