import { expect, test } from "bun:test";
import { type FollowerPosition, fenceQuorum, mostAdvanced, nextEpoch, recoveryQuorum, recoveryWriteQuorum } from "./recovery.ts";

test("recovery hears from enough followers to meet every write quorum", () => {
  // 5 followers: a write acked by q followers is held by one of any 5 - q + 1.
  expect([0, 1, 2, 3, 4, 5].map((q) => recoveryQuorum(5, q))).toEqual([5, 5, 4, 3, 2, 1]);
  expect(recoveryQuorum(0, 0)).toBe(0);
  expect(() => recoveryQuorum(2, 3)).toThrow();
});

const at = (url: string, lastEntryEpoch: number, lastOffset: number, epoch = lastEntryEpoch) => ({
  url,
  epoch,
  lastOffset,
  lastEntryEpoch,
  appliedOffset: 0,
});

test("the most advanced follower holds the newest epoch's entries, then the longest log", () => {
  expect(mostAdvanced([at("a", 1, 10), at("b", 1, 12), at("c", 1, 11)])?.url).toBe("b");
  // c holds entries of a newer leader: its shorter log beats b's longer log of an older epoch.
  expect(mostAdvanced([at("a", 1, 10), at("b", 1, 105), at("c", 2, 101)])?.url).toBe("c");
  // c has only *seen* epoch 2 (a heartbeat) and holds nothing: a, holding acked writes, wins.
  expect(mostAdvanced([at("a", 1, 3), at("c", 0, 0, 2)])?.url).toBe("a");
  expect(mostAdvanced([at("a", 1, 10), at("b", 1, 10)])?.url).toBe("a");
  expect(mostAdvanced([])).toBeNull();
});

test("fencing reaches the recovery quorum and at least a majority, so one epoch has one leader", () => {
  expect([0, 1, 2, 3, 4, 5].map((q) => fenceQuorum(5, q))).toEqual([5, 5, 4, 3, 3, 3]);
  expect(fenceQuorum(0, 0)).toBe(0);
});

test("a new epoch is above every epoch seen and the floor", () => {
  expect(nextEpoch([at("a", 1, 0, 3), at("b", 1, 0, 7)], 0)).toBe(8);
  expect(nextEpoch([at("a", 3, 0)], 1000)).toBe(1000);
  expect(nextEpoch([], 0)).toBe(1);
});

test("a quorum lowered at run time, reported by any follower, sets how many must answer", () => {
  const floor = (writeQuorumFloor: number | null | undefined): FollowerPosition => ({ ...at("a", 1, 5), writeQuorumFloor });
  const table: [configured: number, floors: (number | null | undefined)[], lowest: number, needed: number][] = [
    [3, [], 3, 3],
    [3, [null, undefined], 3, 3],
    [3, [3, 3, 3], 3, 3],
    [3, [3, 1, 3], 1, 5], // the case of issue 11: acknowledged at 1, restarted with WRITE_QUORUM=3
    [3, [2], 2, 4],
    [3, [0], 0, 5],
    [2, [4], 2, 4], // a higher floor never lowers what must answer
  ];
  for (const [configured, floors, lowest, needed] of table) {
    const quorum = recoveryWriteQuorum(configured, floors.map(floor));
    expect([configured, floors, quorum, recoveryQuorum(5, quorum)]).toEqual([configured, floors, lowest, needed]);
  }
});
