import { expect, test } from "bun:test";
import { FollowerCore } from "./follower.ts";
import type { Entry, ReplicateMessage } from "./types.ts";

const entries = (from: number, to: number, epoch = 1): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ offset: from + i, epoch, key: `k${(from + i) % 3}`, value: String(from + i) }));

const message = (prevOffset: number, list: Entry[], commitOffset: number, epoch = 1): ReplicateMessage => ({
  epoch,
  leaderId: "leader",
  prevOffset,
  entries: list,
  commitOffset,
});

test("appends in order and applies only what is committed", () => {
  const follower = new FollowerCore();
  expect(follower.receive(message(0, entries(1, 3), 0))).toEqual({ kind: "ok", lastOffset: 3 });
  expect(follower.appliedOffset).toBe(0);
  expect(follower.state.get("k1")).toBeUndefined();
  follower.receive(message(3, [], 2));
  expect(follower.appliedOffset).toBe(2);
  expect(follower.state.get("k1")?.value).toBe("1");
  expect(follower.state.get("k0")).toBeUndefined(); // offset 3 is held but not committed
});

test("a message that arrives ahead of an earlier one is a gap and changes nothing", () => {
  const follower = new FollowerCore();
  expect(follower.receive(message(3, entries(4, 5), 5))).toEqual({ kind: "gap", lastOffset: 0 });
  expect(follower.lastOffset).toBe(0);
  expect(follower.appliedOffset).toBe(0);
  follower.receive(message(0, entries(1, 3), 0));
  expect(follower.receive(message(3, entries(4, 5), 5))).toEqual({ kind: "ok", lastOffset: 5 });
  expect(follower.appliedOffset).toBe(5);
  // The seed's bug: out-of-order application would leave k1 at 1 instead of 4.
  expect(follower.state.get("k1")?.value).toBe("4");
});

test("duplicates and overlaps are ignored", () => {
  const follower = new FollowerCore();
  follower.receive(message(0, entries(1, 4), 4));
  const before = follower.state.digest();
  expect(follower.receive(message(1, entries(2, 6), 6))).toEqual({ kind: "ok", lastOffset: 6 });
  expect(follower.receive(message(0, entries(1, 2), 6))).toEqual({ kind: "ok", lastOffset: 6 });
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
