import { describe, expect, test } from "bun:test";
import { electionQuorum, electionTimeoutMs, grantsPreVote, grantsVote } from "./election.ts";
import { FollowerCore } from "./follower.ts";
import { type FollowerPosition, RecoveryCore } from "./recovery.ts";

/** Every subset of {0..n-1} of a size, as bit masks. */
function subsets(n: number, size: number): number[] {
  const masks: number[] = [];
  for (let mask = 0; mask < 1 << n; mask++) if (popcount(mask) === size) masks.push(mask);
  return masks;
}

function popcount(mask: number): number {
  let count = 0;
  for (let rest = mask; rest; rest &= rest - 1) count++;
  return count;
}

describe("electionQuorum (Flexible Paxos, at least a majority)", () => {
  test("six nodes: W = 0 needs all six (the old leader too); then 5, 4, 4, 4, 4", () => {
    expect([0, 1, 2, 3, 4, 5].map((w) => electionQuorum(6, w))).toEqual([6, 5, 4, 4, 4, 4]);
  });

  test("every election quorum meets every write quorum (leader + W) and every other election quorum, and is the smallest that does", () => {
    for (let nodes = 2; nodes <= 9; nodes++) {
      for (let writeQuorum = 1; writeQuorum < nodes; writeQuorum++) {
        const quorum = electionQuorum(nodes, writeQuorum)!;
        const meetsAll = (size: number) => {
          const elections = subsets(nodes, size);
          const writes = subsets(nodes, writeQuorum + 1);
          return elections.every((e) => writes.every((w) => (e & w) !== 0) && elections.every((other) => (e & other) !== 0));
        };
        expect(meetsAll(quorum)).toBe(true);
        // M − W − 1 (or anything below) misses a write quorum or lets two candidates win one epoch.
        expect(meetsAll(quorum - 1)).toBe(false);
      }
    }
  });
});

describe("pre-vote", () => {
  const view = { nowMs: 10_000, lastLeaderContactMs: 9_700, electionTimeoutMs: 500, leads: false };
  test("refused by a node that heard its leader within the election timeout (a rejoining node cannot depose a healthy leader)", () => {
    expect(grantsPreVote(view)).toBe(false);
    expect(grantsPreVote({ ...view, lastLeaderContactMs: 9_500 })).toBe(true);
    expect(grantsPreVote({ ...view, lastLeaderContactMs: Number.NEGATIVE_INFINITY })).toBe(true);
  });
  test("refused by a healthy leader", () => {
    expect(grantsPreVote({ ...view, lastLeaderContactMs: Number.NEGATIVE_INFINITY, leads: true })).toBe(false);
  });
});

test("the election timeout is randomised between the base and twice it", () => {
  expect(electionTimeoutMs(500, 0)).toBe(500);
  expect(electionTimeoutMs(500, 0.999)).toBeCloseTo(999.5);
});

describe("votes: one per epoch", () => {
  test("an epoch is granted once, only above the promised one", () => {
    expect(grantsVote(4, 5)).toBe(true);
    expect(grantsVote(5, 5)).toBe(false);
    expect(grantsVote(6, 5)).toBe(false);
  });

  /** A voter answers a fence as FollowerNode.fence does: its position before, then it promises the epoch if granted. */
  function vote(voter: FollowerCore, url: string, epoch: number, candidate: string): FollowerPosition {
    const position = { url, epoch: voter.epoch, lastOffset: voter.lastOffset, lastEntryEpoch: voter.lastEntryEpoch, appliedOffset: voter.appliedOffset };
    if (grantsVote(voter.epoch, epoch)) voter.receive({ epoch, leaderId: candidate, prevOffset: 0, prevEpoch: 0, entries: [], commitOffset: 0 });
    return position;
  }

  test("two candidates at one epoch: the second meets a voter the first won and stands again higher, never at the same epoch", () => {
    const voters = Array.from({ length: 6 }, () => new FollowerCore());
    const election = (first: number, last: number, candidate: string) => {
      const core = new RecoveryCore(6, 3, undefined, 3, { startEpoch: 1 });
      const step = core.poll();
      expect(step).toEqual({ kind: "poll", fenceEpoch: 1 });
      const positions = voters.slice(first, last + 1).map((voter, index) => vote(voter, `n${first + index}`, 1, candidate));
      return { core, next: core.afterRound(positions, 0, 0) };
    };
    const a = election(0, 3, "a");
    expect(a.next.kind).toBe("done");
    const b = election(2, 5, "b");
    // Voters 2 and 3 promised epoch 1 to a: b must not lead at epoch 1.
    expect(b.next).toEqual({ kind: "poll", fenceEpoch: 2 });
  });

  test("an election waits for its quorum of answers (the candidate's own included) and never goes on with fewer", () => {
    const core = new RecoveryCore(6, 1, undefined, 3, { startEpoch: 3 });
    core.poll();
    const positions = ["a", "b", "c", "d"].map((url) => ({ url, epoch: 2, lastOffset: 5, lastEntryEpoch: 2, appliedOffset: 5 }));
    expect(core.afterRound(positions, 60_000, 0).kind).toBe("retry");
    expect(core.afterRound([...positions, { url: "e", epoch: 2, lastOffset: 6, lastEntryEpoch: 2, appliedOffset: 5 }], 0, 0)).toMatchObject({
      kind: "fetch",
      from: { url: "e" },
    });
  });

  test("W = 0 waits for every node, however long; a forced one (promote) goes on with the candidate alone", () => {
    const core = new RecoveryCore(6, 0, undefined, 3, { startEpoch: 2 });
    core.poll();
    const own = { url: "self", epoch: 1, lastOffset: 4, lastEntryEpoch: 1, appliedOffset: 4 };
    const others = ["a", "b", "c", "d"].map((url) => ({ ...own, url }));
    expect(core.afterRound([own, ...others], 600_000, 0).kind).toBe("retry");
    expect(core.afterRound([own, ...others, { ...own, url: "e", lastOffset: 5 }], 0, 0)).toMatchObject({ kind: "fetch", from: { url: "e" } });
    const forced = new RecoveryCore(6, 0, undefined, 1, { startEpoch: 2, forced: true });
    forced.poll();
    expect(forced.afterRound([own], 0, 0)).toMatchObject({ kind: "fetch", from: { url: "self" } });
  });

  test("a lower write quorum reported by a voter raises the quorum needed (the floor)", () => {
    const core = new RecoveryCore(6, 3, undefined, 3, { startEpoch: 2 });
    core.poll();
    const positions = ["a", "b", "c", "d"].map((url) => ({ url, epoch: 1, lastOffset: 5, lastEntryEpoch: 1, appliedOffset: 5, writeQuorumFloor: 1 }));
    expect(core.afterRound(positions, 0, 0).kind).toBe("retry");
    expect(core.needed).toBe(5);
  });
});

test("the winner takes the write quorum in force where the log it adopts came from (W is replicated state), and plans with the floor", () => {
  const core = new RecoveryCore(6, 3, undefined, 3, { startEpoch: 2 });
  core.poll();
  const voter = (url: string, lastOffset: number, writeQuorum: number | null) => ({
    url,
    epoch: 1,
    lastOffset,
    lastEntryEpoch: 1,
    appliedOffset: 0,
    writeQuorumFloor: 3,
    writeQuorum,
  });
  // d holds the longest log and heard W raised to 5; the others lag behind with an older W.
  const step = core.afterRound([voter("a", 4, 3), voter("b", 5, null), voter("c", 5, 3), voter("d", 6, 5)], 0, 0);
  expect(step).toMatchObject({ kind: "fetch", from: { url: "d" } });
  const data = {
    epoch: 1,
    appliedOffset: 0,
    appliedEpoch: 0,
    pairs: [],
    entries: [1, 2, 3, 4, 5, 6].map((offset) => ({ offset, epoch: 1, key: "k", value: "1" })),
  };
  expect(core.afterFetch(voter("d", 6, 5), data)).toMatchObject({ kind: "done", epoch: 2, writeQuorum: 5, writeQuorumFloor: 3 });
  // Nothing held anywhere: the most advanced voter still says which W was in force; none said: unknown.
  const empty = new RecoveryCore(6, 3, undefined, 3, { startEpoch: 2 });
  empty.poll();
  expect(
    empty.afterRound(
      ["a", "b", "c", "d"].map((url) => voter(url, 0, 4)),
      0,
      0,
    ),
  ).toMatchObject({ kind: "done", writeQuorum: 4 });
  const unknown = new RecoveryCore(6, 3, undefined, 3, { startEpoch: 2 });
  unknown.poll();
  expect(
    unknown.afterRound(
      ["a", "b", "c", "d"].map((url) => voter(url, 0, null)),
      0,
      0,
    ),
  ).toMatchObject({ kind: "done", writeQuorum: null });
});
