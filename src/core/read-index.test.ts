import { describe, expect, test } from "bun:test";
import { LeaderCore } from "./leader.ts";
import { ReadRounds, readQuorum } from "./read-index.ts";
import { fenceQuorum } from "./recovery.ts";

describe("readQuorum: followers a leader read must hear from", () => {
  // Rows: N followers; columns: W = 0..N. W = 0 needs every follower (an asynchronous recovery
  // may go on after one answer); otherwise N − max(N − W + 1, majority) + 1.
  const table: Record<number, number[]> = {
    1: [1, 1],
    2: [2, 1, 1],
    3: [3, 1, 2, 2],
    4: [4, 1, 2, 2, 2],
    5: [5, 1, 2, 3, 3, 3],
  };
  for (const [n, row] of Object.entries(table)) {
    test(`N = ${n}`, () => {
      expect(row.map((_, w) => readQuorum(Number(n), w))).toEqual(row);
    });
  }

  test("every fence set a recovery may use meets every read quorum (so one follower in both saw the read first)", () => {
    for (let n = 1; n <= 5; n++) {
      for (let w = 0; w <= n; w++) {
        const read = readQuorum(n, w);
        // A recovery plans with at most w (lower floors only raise fenceQuorum); with 0 it may fence
        // just one, which a leader knows of (its floor is 0) and then reads with w = 0.
        for (let planned = Math.min(1, w); planned <= w; planned++) {
          const smallestFence = planned === 0 ? 1 : fenceQuorum(n, planned);
          expect(read + smallestFence).toBeGreaterThan(n);
        }
      }
    }
  });

  test("no followers: nothing to confirm", () => {
    expect(readQuorum(0, 0)).toBe(0);
  });
});

describe("ReadRounds", () => {
  test("reads before the next message share a round; one after it opens another", () => {
    const rounds = new ReadRounds();
    const first = rounds.open([0, 0, 0], 2);
    expect(rounds.open([0, 0, 0], 2)).toBe(first);
    const second = rounds.open([1, 0, 0], 2);
    expect(second).toBeGreaterThan(first);
    expect(rounds.pending).toBe(2);
  });

  test("a round is confirmed by answers to messages sent after it opened, and confirms the older ones", () => {
    const rounds = new ReadRounds();
    const first = rounds.open([0, 0, 0], 2);
    const second = rounds.open([1, 1, 1], 2);
    rounds.ack(0, 0, 2); // sent before the second round: counts for the first only
    rounds.ack(2, 0, 2);
    expect(rounds.confirmedId).toBe(first);
    rounds.ack(1, 0, 2); // too old for the second round
    expect(rounds.confirmedId).toBe(first);
    rounds.ack(1, 1, 2);
    expect(rounds.confirmedId).toBe(first);
    rounds.ack(2, 1, 2);
    expect(rounds.confirmedId).toBe(second);
    expect(rounds.pending).toBe(0);
  });

  test("one follower answering twice is one answer", () => {
    const rounds = new ReadRounds();
    rounds.open([0, 0, 0], 2);
    rounds.ack(0, 0, 2);
    rounds.ack(0, 1, 2);
    expect(rounds.confirmedId).toBe(0);
  });

  test("required 0 confirms at once", () => {
    const rounds = new ReadRounds();
    const round = rounds.open([], 0);
    expect(rounds.confirmedId).toBe(round);
  });

  test("a follower is sent a message for the newest round until it answered one", () => {
    const rounds = new ReadRounds();
    expect(rounds.wantsMessage(0, 3, 0)).toBe(false);
    rounds.open([3, 3], 2);
    expect(rounds.wantsMessage(0, 3, 1)).toBe(true); // nothing sent since it opened
    expect(rounds.wantsMessage(0, 4, 1)).toBe(false); // sent, in flight
    expect(rounds.wantsMessage(0, 4, 0)).toBe(true); // sent, and it failed
    rounds.ack(0, 3, 2);
    expect(rounds.wantsMessage(0, 4, 0)).toBe(false);
    rounds.clear();
    expect(rounds.wantsMessage(1, 3, 0)).toBe(false);
  });
});

describe("LeaderCore's read rounds", () => {
  const heartbeatMs = 50;
  /** Sends follower `index` what the leader has for it at `nowMs`; returns the first message's sequence, or null. */
  const send = (leader: LeaderCore, index: number, nowMs: number) => {
    const sequence = leader.followers[index]!.sentCount;
    return leader.takeMessages(index, nowMs, heartbeatMs).length > 0 ? sequence : null;
  };

  test("a read sends every follower a heartbeat at once and is confirmed by readQuorum answers to them", () => {
    const leader = new LeaderCore({ id: "l", epoch: 1, followerCount: 5, writeQuorum: 3 });
    for (let i = 0; i < 5; i++) leader.onReply(i, { kind: "ok", lastOffset: 0, incarnation: 7 }, 0, send(leader, i, 0)!);
    expect(send(leader, 0, 1)).toBeNull(); // not idle: no heartbeat without a read
    expect(leader.readQuorum()).toBe(3);
    const round = leader.openRead();
    expect(leader.openRead()).toBe(round); // nothing sent since: the same round
    const sequences = [0, 1, 2, 3, 4].map((i) => send(leader, i, 1)!);
    expect(sequences).toEqual([1, 1, 1, 1, 1]);
    leader.onReply(0, { kind: "ok", lastOffset: 0, incarnation: 7 }, 2, sequences[0]);
    leader.onReply(1, { kind: "gap", lastOffset: 0, incarnation: 7 }, 2, sequences[1]);
    expect(leader.readsConfirmedRound).toBeLessThan(round);
    leader.onReply(2, { kind: "ok", lastOffset: 0, incarnation: 7 }, 2, sequences[2]);
    expect(leader.readsConfirmedRound).toBe(round);
  });

  test("a stale_epoch answer deposes the leader and its rounds are never confirmed", () => {
    const leader = new LeaderCore({ id: "l", epoch: 1, followerCount: 3, writeQuorum: 2 });
    const round = leader.openRead();
    const sequences = [0, 1, 2].map((i) => send(leader, i, 0)!);
    leader.onReply(0, { kind: "stale_epoch", epoch: 2 }, 1, sequences[0]);
    leader.onReply(1, { kind: "ok", lastOffset: 0, incarnation: 7 }, 1, sequences[1]);
    leader.onReply(2, { kind: "ok", lastOffset: 0, incarnation: 7 }, 1, sequences[2]);
    expect(leader.deposedBy).toBe(2);
    expect(leader.readsConfirmedRound).toBeLessThan(round);
  });

  test("a write quorum lowered to 0 makes a read need every follower", () => {
    const leader = new LeaderCore({ id: "l", epoch: 1, followerCount: 3, writeQuorum: 2 });
    expect(leader.readQuorum()).toBe(2);
    leader.setWriteQuorum(0);
    expect(leader.readQuorum()).toBe(3);
  });
});
