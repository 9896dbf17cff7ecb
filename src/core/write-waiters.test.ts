import { expect, test } from "bun:test";
import { type WriteWaiter, WriteWaiters } from "./write-waiters.ts";

const waiter = (offset: number, required: number) => ({ offset, required, settled: false });

test("a write is ready once committed and held by its required followers, once", () => {
  const waiters = new WriteWaiters();
  const [a, b, c] = [waiter(1, 3), waiter(2, 5), waiter(3, 3)];
  [a, b, c].forEach((w) => waiters.add(w));
  const acks = new Map([
    [1, 3],
    [2, 4],
    [3, 3],
  ]);
  expect(waiters.takeReady(0, (offset) => acks.get(offset)!)).toEqual([]);
  // Offset 2 is committed (quorum 3) but asked for 5: it waits while 3 is answered.
  expect(waiters.takeReady(3, (offset) => acks.get(offset)!)).toEqual([a, c]);
  expect(a.settled && c.settled && !b.settled).toBe(true);
  expect(waiters.takeReady(3, (offset) => acks.get(offset)!)).toEqual([]);
  acks.set(2, 5);
  expect(waiters.takeReady(3, (offset) => acks.get(offset)!)).toEqual([b]);
  expect(waiters.takeReady(3, () => 5)).toEqual([]);
});

test("a waiter settled by its caller (a timeout) is never returned", () => {
  const waiters = new WriteWaiters();
  const timedOut = waiter(1, 1);
  waiters.add(timedOut);
  timedOut.settled = true;
  expect(waiters.takeReady(1, () => 5)).toEqual([]);
});

test("takeAll answers every unsettled waiter once, elevated ones too, and leaves none", () => {
  const waiters = new WriteWaiters<WriteWaiter>();
  const list = [1, 2, 3].map((offset) => ({ offset, required: offset === 1 ? 3 : 1, settled: offset === 3 }));
  for (const waiter of list) waiters.add(waiter);
  expect(waiters.takeReady(1, () => 1)).toEqual([]); // offset 1 waits, elevated, for 3 acks
  expect(waiters.takeAll().map((w) => w.offset)).toEqual([2, 1]);
  expect(list.every((w) => w.settled)).toBe(true);
  expect(waiters.takeAll()).toEqual([]);
  expect(waiters.takeReady(10, () => 5)).toEqual([]);
});
