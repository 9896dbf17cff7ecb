import { expect, test } from "bun:test";
import { FollowerCore } from "./follower.ts";
import type { Entry, ReplicateMessage } from "./types.ts";

const entries = (from: number, to: number, epoch = 1): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ offset: from + i, epoch, key: `k${(from + i) % 3}`, value: String(from + i) }));

const message = (prevOffset: number, list: Entry[], commitOffset: number, epoch = 1): ReplicateMessage => ({
  epoch,
  leaderId: "leader",
  prevOffset,
  prevEpoch: prevOffset === 0 ? 0 : epoch,
  entries: list,
  commitOffset,
});

test("appends in order and applies only what is committed", () => {
  const follower = new FollowerCore();
  expect(follower.receive(message(0, entries(1, 3), 0))).toEqual({ kind: "ok", lastOffset: 3, incarnation: 0 });
  expect(follower.appliedOffset).toBe(0);
  expect(follower.state.get("k1")).toBeUndefined();
  follower.receive(message(3, [], 2));
  expect(follower.appliedOffset).toBe(2);
  expect(follower.state.get("k1")?.value).toBe("1");
  expect(follower.state.get("k0")).toBeUndefined(); // offset 3 is held but not committed
});

test("a message that arrives ahead of an earlier one is a gap and changes nothing", () => {
  const follower = new FollowerCore();
  expect(follower.receive(message(3, entries(4, 5), 5))).toEqual({ kind: "gap", lastOffset: 0, incarnation: 0 });
  expect(follower.lastOffset).toBe(0);
  expect(follower.appliedOffset).toBe(0);
  follower.receive(message(0, entries(1, 3), 0));
  expect(follower.receive(message(3, entries(4, 5), 5))).toEqual({ kind: "ok", lastOffset: 5, incarnation: 0 });
  expect(follower.appliedOffset).toBe(5);
  // The seed's bug: out-of-order application would leave k1 at 1 instead of 4.
  expect(follower.state.get("k1")?.value).toBe("4");
});

test("duplicates and overlaps are ignored", () => {
  const follower = new FollowerCore();
  follower.receive(message(0, entries(1, 4), 4));
  const before = follower.state.digest();
  expect(follower.receive(message(1, entries(2, 6), 6))).toEqual({ kind: "ok", lastOffset: 6, incarnation: 0 });
  expect(follower.receive(message(0, entries(1, 2), 6))).toEqual({ kind: "ok", lastOffset: 6, incarnation: 0 });
  expect(follower.appliedOffset).toBe(6);
  expect(before.appliedOffset).toBe(4);
});

test("a commit offset beyond what the follower holds applies only what it holds", () => {
  const follower = new FollowerCore();
  follower.receive(message(0, entries(1, 2), 10));
  expect(follower.commitOffset).toBe(2);
  expect(follower.appliedOffset).toBe(2);
  follower.receive(message(2, entries(3, 3), 10));
  expect(follower.appliedOffset).toBe(3);
});

test("messages from an older epoch are refused and change nothing", () => {
  const follower = new FollowerCore();
  follower.receive(message(0, entries(1, 2, 2), 2, 2));
  expect(follower.receive(message(2, entries(3, 3), 3, 1))).toEqual({ kind: "stale_epoch", epoch: 2 });
  expect(follower.lastOffset).toBe(2);
  expect(follower.epoch).toBe(2);
});

test("an entry that differs from the leader's at the same offset is replaced, with all after it", () => {
  const follower = new FollowerCore();
  follower.receive(message(0, entries(1, 5, 1), 2, 1)); // epoch 1: holds 1..5, 1..2 applied
  // Epoch 2's leader has 1..3 of epoch 1, then its own 4.
  const fromNewLeader = message(3, [{ offset: 4, epoch: 2, key: "k1", value: "new" }], 4, 2);
  fromNewLeader.prevEpoch = 1;
  expect(follower.receive(fromNewLeader)).toEqual({ kind: "ok", lastOffset: 4, incarnation: 0 });
  expect(follower.lastOffset).toBe(4); // the stale 5 went with the stale 4
  expect(follower.state.get("k1")?.value).toBe("new");
});

test("stale entries of an older epoch are never applied, whatever the new leader's commit offset", () => {
  const follower = new FollowerCore();
  follower.receive(message(0, entries(1, 5, 1), 0, 1)); // holds 1..5 of epoch 1, nothing applied
  // A heartbeat of epoch 2 announcing commit 5: nothing here is verified against epoch 2 yet.
  expect(follower.receive({ ...message(0, [], 5, 2) })).toEqual({ kind: "ok", lastOffset: 0, incarnation: 0 });
  expect(follower.appliedOffset).toBe(0);
  // Its log says the entry at 5 is of epoch 2, ours is of epoch 1: drop ours from 5 on, ask again.
  expect(follower.receive({ ...message(5, [], 5, 2), prevEpoch: 2 })).toEqual({ kind: "gap", lastOffset: 4, incarnation: 0 });
  expect(follower.pendingEntries().map((entry) => entry.offset)).toEqual([1, 2, 3, 4]);
  expect(follower.appliedOffset).toBe(0);
  // The leader probes at 4: ours is of epoch 1 there too, not the leader's 2; that goes as well.
  expect(follower.receive({ ...message(4, [], 5, 2), prevEpoch: 2 })).toEqual({ kind: "gap", lastOffset: 3, incarnation: 0 });
  expect(follower.appliedOffset).toBe(0);
});

test("a conflict at prevOffset drops only from there on: entries before it may be committed writes this follower acknowledged", () => {
  const follower = new FollowerCore();
  follower.receive(message(0, entries(1, 5, 1), 0, 1)); // holds 1..5 of epoch 1, nothing applied
  // A new leader of epoch 2 took over a log with 1..4 of epoch 1 and put its marker at 5.
  expect(follower.receive({ ...message(5, [], 0, 2), prevEpoch: 2 })).toEqual({ kind: "gap", lastOffset: 4, incarnation: 0 });
  expect(follower.pendingEntries().map((entry) => entry.offset)).toEqual([1, 2, 3, 4]);
  // Its probe at 4 (epoch 1) matches: the follower holds 1..4 verified, and takes the marker.
  expect(follower.receive({ ...message(4, [{ offset: 5, epoch: 2, key: "", value: null }], 5, 2), prevEpoch: 1 })).toEqual({
    kind: "ok",
    lastOffset: 5,
    incarnation: 0,
  });
  expect(follower.appliedOffset).toBe(5);
});

test("replies carry the incarnation the follower was started with", () => {
  const follower = new FollowerCore(1234);
  expect(follower.receive(message(0, entries(1, 1), 0))).toMatchObject({ kind: "ok", incarnation: 1234 });
  expect(follower.receive(message(5, [], 0))).toMatchObject({ kind: "gap", incarnation: 1234 });
});

test("a snapshot that repeats a key across chunks is refused and restored from nothing", () => {
  const follower = new FollowerCore();
  const chunk = { epoch: 1, leaderId: "L", snapshotOffset: 50, snapshotEpoch: 1, commitOffset: 50 };
  expect(follower.receiveSnapshot({ ...chunk, chunk: 0, pairs: [["k", "1", 1]], done: false })).toMatchObject({ kind: "chunk_ok" });
  expect(follower.receiveSnapshot({ ...chunk, chunk: 1, pairs: [["k", "2", 2]], done: true })).toMatchObject({ kind: "gap" });
  expect(follower.appliedOffset).toBe(0);
  expect(follower.snapshotsInstalled).toBe(0);
});

test("the write quorum floor: lowered at once, raised only by a later commit, kept across a fence", () => {
  const follower = new FollowerCore();
  expect(follower.writeQuorumFloor).toBeNull();
  follower.receive({ ...message(0, entries(1, 2), 1), writeQuorumFloor: 3 });
  expect(follower.writeQuorumFloor).toBe(3);
  follower.receive({ ...message(2, [], 1), writeQuorumFloor: 1 });
  expect(follower.writeQuorumFloor).toBe(1);
  // A message sent before the quorum was lowered, arriving late, does not raise it again.
  follower.receive({ ...message(2, [], 1), writeQuorumFloor: 3 });
  expect(follower.writeQuorumFloor).toBe(1);
  follower.receive(message(2, [], 2)); // says nothing about the floor
  expect(follower.writeQuorumFloor).toBe(1);
  follower.receive({ ...message(2, [], 2), writeQuorumFloor: 3 });
  expect(follower.writeQuorumFloor).toBe(3);
  follower.receive({ ...message(2, [], 2), writeQuorumFloor: 1 });
  // A fence (a new epoch, no floor) keeps it for the next leader to read.
  follower.receive({ epoch: 2, leaderId: "next", prevOffset: 0, prevEpoch: 0, entries: [], commitOffset: 0 });
  expect(follower.writeQuorumFloor).toBe(1);
  // The new leader's first message replaces it, whatever its commit offset.
  follower.receive({ ...message(0, [], 0, 2), writeQuorumFloor: 3 });
  expect(follower.writeQuorumFloor).toBe(3);
});

test("a changed write quorum floor is in the Ready to store, an unchanged one is not; a restart restores it until a leader replaces it", () => {
  const follower = new FollowerCore();
  follower.receive({ ...message(0, entries(1, 2), 1), writeQuorumFloor: 2 });
  expect(follower.takeReady().writeQuorums?.floor).toBe(2);
  follower.receive({ ...message(2, [], 2), writeQuorumFloor: 2 });
  expect(follower.takeReady().writeQuorums).toBeNull();
  follower.receive({ ...message(2, [], 2), writeQuorumFloor: 1 });
  expect(follower.takeReady().writeQuorums?.floor).toBe(1);
  const restarted = new FollowerCore();
  restarted.restore(1, null, entries(1, 2), { writeQuorum: null, floor: 1 });
  expect(restarted.writeQuorumFloor).toBe(1);
  restarted.receive({ ...message(2, [], 0), writeQuorumFloor: 3 });
  expect(restarted.writeQuorumFloor).toBe(3);
  expect(restarted.takeReady().writeQuorums?.floor).toBe(3);
});

test("applied entries are verified anew under a new leader; one that differs makes the follower diverged until a snapshot", () => {
  const follower = new FollowerCore();
  follower.receive(message(0, entries(1, 4, 1), 4, 1)); // applied 1..4 of epoch 1
  expect(follower.appliedOffset).toBe(4);
  // A new leader's heartbeat verifies nothing below it, not even what was applied.
  expect(follower.receive(message(0, [], 0, 3))).toEqual({ kind: "ok", lastOffset: 0, incarnation: 0 });
  expect(follower.verifiedOffset).toBe(0);
  expect(follower.commitOffset).toBe(4); // applied stays committed: offsets never go back
  // It probes at 2, where its log has epoch 1 too: verified up to 2.
  expect(follower.receive({ ...message(2, [], 0, 3), prevEpoch: 1 })).toEqual({ kind: "ok", lastOffset: 2, incarnation: 0 });
  // Its entry 3 is of epoch 2: the follower applied a write this leader does not have.
  const newer = [{ offset: 3, epoch: 2, key: "k0", value: "other" }];
  expect(follower.receive({ ...message(2, newer, 3, 3), prevEpoch: 1 })).toEqual({ kind: "gap", lastOffset: 4, incarnation: 0, diverged: true });
  expect(follower.diverged).toBe(true);
  // Whatever comes next is refused until a snapshot replaces the state, even one at a lower offset.
  expect(follower.receive({ ...message(0, [], 3, 3) })).toMatchObject({ kind: "gap", diverged: true });
  const snapshot = { epoch: 3, leaderId: "leader", snapshotOffset: 3, snapshotEpoch: 2, chunk: 0, done: true, commitOffset: 3 };
  expect(follower.receiveSnapshot({ ...snapshot, pairs: [["k0", "other", 3]] })).toEqual({ kind: "ok", lastOffset: 3, incarnation: 0 });
  expect(follower.diverged).toBe(false);
  expect(follower.appliedOffset).toBe(3);
  expect(follower.state.get("k0")?.value).toBe("other");
  expect(follower.state.get("k1")).toBeUndefined();
});

test("a probe whose epoch matches the applied history is not divergence; an unknown epoch (-1) is not either", () => {
  const follower = new FollowerCore();
  follower.receive(message(0, entries(1, 2, 1), 2, 1));
  follower.receive({ ...message(2, entries(3, 4, 2), 4, 2), prevEpoch: 1 }); // applied 1..2 of epoch 1, 3..4 of epoch 2
  expect(follower.receive({ ...message(3, [], 4, 5), prevEpoch: 2 })).toMatchObject({ kind: "ok", lastOffset: 3 });
  expect(follower.receive({ ...message(1, [], 4, 5), prevEpoch: 1 })).toMatchObject({ kind: "ok", lastOffset: 3 });
  expect(follower.receive({ ...message(2, [], 4, 5), prevEpoch: -1 })).toMatchObject({ kind: "ok" });
  expect(follower.receive({ ...message(1, [], 4, 5), prevEpoch: 2 })).toMatchObject({ kind: "gap", diverged: true });
});

test("the write quorum in force: taken from the leader's messages, not undone by an older commit, kept across a new epoch", () => {
  const follower = new FollowerCore();
  expect(follower.writeQuorum).toBeNull();
  follower.receive({ ...message(0, entries(1, 2), 1), writeQuorum: 3 });
  expect(follower.writeQuorum).toBe(3);
  // Raised at run time: the next heartbeat says so, with no new commit.
  follower.receive({ ...message(2, [], 1), writeQuorum: 5 });
  expect(follower.writeQuorum).toBe(5);
  follower.receive({ ...message(2, [], 2), writeQuorum: 4 });
  follower.receive({ ...message(2, [], 1), writeQuorum: 5 }); // sent before, arriving late
  expect(follower.writeQuorum).toBe(4);
  follower.receive(message(2, [], 2)); // says nothing about it
  expect(follower.writeQuorum).toBe(4);
  follower.receive({ epoch: 2, leaderId: "next", prevOffset: 0, prevEpoch: 0, entries: [], commitOffset: 0 });
  expect(follower.writeQuorum).toBe(4);
  follower.receive({ epoch: 2, leaderId: "next", prevOffset: 0, prevEpoch: 0, entries: [], commitOffset: 0, writeQuorum: 2 });
  expect(follower.writeQuorum).toBe(2);
});

test("a change of the write quorum or its floor is in the Ready, to be stored beside the epoch; restored, both are reported again", () => {
  const follower = new FollowerCore();
  follower.receive({ ...message(0, entries(1, 2), 1), writeQuorum: 3, writeQuorumFloor: 3 });
  expect(follower.takeReady().writeQuorums).toEqual({ writeQuorum: 3, floor: 3 });
  follower.receive({ ...message(2, [], 1), writeQuorum: 3, writeQuorumFloor: 3 });
  expect(follower.takeReady().writeQuorums).toBeNull();
  follower.receive({ ...message(2, [], 1), writeQuorum: 3, writeQuorumFloor: 1 });
  expect(follower.takeReady().writeQuorums).toEqual({ writeQuorum: 3, floor: 1 });
  const restarted = new FollowerCore();
  restarted.restore(1, null, entries(1, 2), { writeQuorum: 3, floor: 1 });
  expect([restarted.writeQuorum, restarted.writeQuorumFloor]).toEqual([3, 1]);
});
