import { expect, test } from "bun:test";
import { MinHeap } from "./min-heap.ts";

test("pops in order whatever the order of pushes, ties as `before` says", () => {
  const heap = new MinHeap<[number, number]>((a, b) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]));
  const items: [number, number][] = Array.from({ length: 200 }, (_, i) => [(i * 7919) % 37, i]);
  for (const item of items) heap.push(item);
  expect(heap.size).toBe(200);
  const popped: [number, number][] = [];
  for (let item = heap.pop(); item; item = heap.pop()) popped.push(item);
  expect(popped).toEqual([...items].sort((a, b) => a[0] - b[0] || a[1] - b[1]));
  expect(heap.pop()).toBeUndefined();
});
