import { expect, test } from "bun:test";
import { StateMachine } from "./state-machine.ts";
import type { Entry } from "./types.ts";

const entry = (offset: number, key: string, value: string | null): Entry => ({ offset, epoch: 1, key, value });

test("applies in order and keeps the offset of the last write per key", () => {
  const state = new StateMachine();
  state.apply(entry(1, "a", '"x"'));
  state.apply(entry(2, "b", "1"));
  state.apply(entry(3, "a", '"y"'));
  expect(state.get("a")).toMatchObject({ value: `"y"`, offset: 3 });
  expect(state.size).toBe(2);
  expect(state.appliedOffset).toBe(3);
});

test("refuses an entry out of order", () => {
  const state = new StateMachine();
  state.apply(entry(1, "a", "1"));
  expect(() => state.apply(entry(3, "a", "2"))).toThrow(/apply 3 after 1/);
  expect(() => state.apply(entry(1, "a", "2"))).toThrow();
});

test("delete removes the key", () => {
  const state = new StateMachine();
  state.apply(entry(1, "a", "1"));
  state.apply(entry(2, "a", null));
  expect(state.get("a")).toBeUndefined();
  expect(state.size).toBe(0);
});

test("digest depends on the final pairs, not the history that led there", () => {
  const one = new StateMachine();
  [entry(1, "a", "1"), entry(2, "b", "2"), entry(3, "a", "3")].forEach((e) => one.apply(e));
  const two = new StateMachine();
  [entry(1, "b", "2"), entry(2, "a", "3")].forEach((e) => two.apply(e));
  expect(one.digest().digest).toBe(two.digest().digest);
  expect(one.digest().keys).toBe(2);
});

test("digest tells different states apart, including an empty one and a delete", () => {
  const empty = new StateMachine().digest().digest;
  const state = new StateMachine();
  state.apply(entry(1, "a", "1"));
  const withA = state.digest().digest;
  const other = new StateMachine();
  other.apply(entry(1, "a", "2"));
  const swapped = new StateMachine();
  swapped.apply(entry(1, "a1", "")); // key+value boundaries matter: "a"+"1" vs "a1"+""
  expect(new Set([empty, withA, other.digest().digest, swapped.digest().digest]).size).toBe(4);
  state.apply(entry(2, "a", null));
  expect(state.digest().digest).toBe(empty);
});
