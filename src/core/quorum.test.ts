import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ackCount, commitOffset } from "./quorum.ts";

describe("commitOffset", () => {
  // Five followers holding different amounts of a 10-entry log.
  const matchOffsets = [7, 3, 10, 0, 5];
  const table: [quorum: number, expected: number][] = [
    [0, 10], // asynchronous: the leader's own log is committed
    [1, 10],
    [2, 7],
    [3, 5],
    [4, 3],
    [5, 0],
  ];
  for (const [quorum, expected] of table) {
    test(`quorum ${quorum} commits offset ${expected}`, () => {
      expect(commitOffset(matchOffsets, quorum, 10)).toBe(expected);
    });
  }

  test("never beyond the leader's log", () => {
    expect(commitOffset([9, 9, 9], 2, 4)).toBe(4);
  });

  test("is the quorum-th largest match offset, ties included", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 7 }), fc.nat(), (offsets, pick) => {
        const quorum = 1 + (pick % offsets.length);
        const quorumThLargest = offsets.toSorted((a, b) => b - a)[quorum - 1]!;
        expect(commitOffset(offsets, quorum, 15)).toBe(Math.min(quorumThLargest, 15));
      }),
    );
  });

  test("does not reorder the caller's array", () => {
    const offsets = [1, 3, 2];
    commitOffset(offsets, 2, 3);
    expect(offsets).toEqual([1, 3, 2]);
  });

  test("refuses a quorum above the follower count", () => {
    expect(() => commitOffset([1, 2], 3, 2)).toThrow();
    expect(() => commitOffset([1, 2], -1, 2)).toThrow();
  });
});

test("ackCount counts followers holding the offset", () => {
  expect(ackCount([7, 3, 10, 0, 5], 5)).toBe(3);
  expect(ackCount([7, 3, 10, 0, 5], 11)).toBe(0);
  expect(ackCount([7, 3, 10, 0, 5], 0)).toBe(5);
});
