import { expect, test } from "bun:test";
import { ChangeWindow } from "./change-window.ts";

test("holds the last changes; completeAfter names the offset up to which some were dropped", () => {
  const window = new ChangeWindow(3, 1_000, 10);
  expect(window.completeAfter).toBe(10);
  for (const offset of [11, 12, 13]) window.push(`k${offset}`, `${offset}`, offset);
  expect(window.from(11, 10).map((change) => change.offset)).toEqual([11, 12, 13]);
  window.push("k14", "14", 14);
  expect(window.completeAfter).toBe(11);
  expect(window.from(12, 10).map((change) => change.key)).toEqual(["k12", "k13", "k14"]);
  expect(() => window.from(11, 10)).toThrow(/no longer held/);
});

test("a batch never splits one offset's changes (a transaction's), and starts at the first offset asked", () => {
  const window = new ChangeWindow(10, 1_000, 0);
  window.push("a", "1", 1);
  window.push("b", "2", 2);
  window.push("c", "2", 2);
  window.push("d", "3", 3);
  expect(window.from(1, 2).map((change) => change.key)).toEqual(["a", "b", "c"]);
  expect(window.from(2, 1).map((change) => change.key)).toEqual(["b", "c"]);
  expect(window.from(3, 1).map((change) => change.key)).toEqual(["d"]);
  expect(window.from(4, 1)).toEqual([]);
});

test("the characters bound drops old changes too, deletes included", () => {
  const window = new ChangeWindow(100, 10, 0);
  window.push("a", "12345", 1);
  window.push("b", null, 2);
  window.push("c", "1234", 3);
  expect(window.completeAfter).toBe(1);
  expect(window.from(2, 10)).toEqual([
    { key: "b", value: null, offset: 2 },
    { key: "c", value: "1234", offset: 3 },
  ]);
});

test("a reader in the oldest quarter of a nearly full window is near eviction; one further on is not", () => {
  const window = new ChangeWindow(100, 1_000_000, 0);
  for (let offset = 1; offset <= 70; offset++) window.push("k", "v", offset);
  expect(window.nearEviction(1)).toBe(false); // not three quarters full
  for (let offset = 71; offset <= 80; offset++) window.push("k", "v", offset);
  expect(window.nearEviction(1)).toBe(true);
  expect(window.nearEviction(20)).toBe(true);
  expect(window.nearEviction(21)).toBe(false);
});

test("drops by characters before it is full, then wraps many times: it always holds what a plain list would", () => {
  const window = new ChangeWindow(4, 12, 0);
  const model: { key: string; value: string | null; offset: number }[] = [];
  for (let offset = 1; offset <= 40; offset++) {
    const change = { key: `k${offset % 3}`, value: offset % 5 === 0 ? null : "v".repeat(offset % 7), offset };
    window.push(change.key, change.value, offset);
    model.push(change);
    const chars = () => model.reduce((sum, { key, value }) => sum + key.length + (value?.length ?? 0), 0);
    while (model.length > 1 && (model.length > 4 || chars() > 12)) model.shift();
    expect(window.from(window.completeAfter + 1, 100)).toEqual(model);
  }
});
