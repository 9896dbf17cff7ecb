import { expect, test } from "bun:test";
import { Log } from "./log.ts";

test("offsets start at 1 without holes", () => {
  const log = new Log();
  expect(log.lastOffset).toBe(0);
  expect(log.append(1, "a", "1").offset).toBe(1);
  expect(log.append(1, "b", null).offset).toBe(2);
  expect(log.at(2)).toEqual({ offset: 2, epoch: 1, key: "b", value: null });
});

test("slice is bounded by count and by characters, but always carries one entry", () => {
  const log = new Log();
  for (let i = 0; i < 10; i++) log.append(1, `k${i}`, "x".repeat(100));
  expect(log.slice(3, 4).map((e) => e.offset)).toEqual([3, 4, 5, 6]);
  expect(log.slice(9, 100).map((e) => e.offset)).toEqual([9, 10]);
  expect(log.slice(11, 100)).toEqual([]);
  expect(log.slice(1, 100, 250).map((e) => e.offset)).toEqual([1, 2]);
  expect(log.slice(1, 100, 10).map((e) => e.offset)).toEqual([1]);
});

test("dropBefore keeps offsets stable and refuses to slice dropped entries", () => {
  const log = new Log();
  for (let i = 0; i < 5; i++) log.append(1, "k", String(i));
  log.dropBefore(4);
  expect(log.firstOffset).toBe(4);
  expect(log.lastOffset).toBe(5);
  expect(log.at(4).value).toBe("3");
  expect(() => log.slice(2, 1)).toThrow(/dropped/);
  expect(log.append(1, "k", "5").offset).toBe(6);
});
