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

test("the digest's value is pinned: nodes of different versions compare digests, so the pair hash must not change", () => {
  // Computed with the hash as first written (hash64 of key + "\u0000" + value, two murmur3-style halves).
  const state = new StateMachine();
  state.apply(entry(1, "a", "1"));
  state.apply(entry(2, "key-7", '"value-7"'));
  state.apply(entry(3, "ü→", '{"n":[1,2]}'));
  expect(state.digest().digest).toBe("ae1842b4d9492680");
  const restored = StateMachine.restore(
    3,
    1,
    [
      ["a", "1", 1],
      ["key-7", '"value-7"', 2],
      ["ü→", '{"n":[1,2]}', 3],
    ].sort(([a], [b]) => (String(a) < String(b) ? -1 : 1)) as [string, string, number][],
  );
  expect(restored.digest().digest).toBe("ae1842b4d9492680");
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

test("a conditional write applies only when the key's offset matches (0: absent), on every state alike", () => {
  const state = new StateMachine();
  expect(state.apply({ ...entry(1, "a", "1"), ifOffset: 0 })).toEqual({ kind: "written" });
  expect(state.apply({ ...entry(2, "a", "2"), ifOffset: 0 })).toEqual({ kind: "precondition_failed", key: "a", offset: 1 });
  expect(state.get("a")).toMatchObject({ value: "1", offset: 1 });
  expect(state.appliedOffset).toBe(2);
  expect(state.apply({ ...entry(3, "a", null), ifOffset: 1 })).toEqual({ kind: "written" });
  expect(state.get("a")).toBeUndefined();
  expect(state.apply(entry(4, "b", "1"))).toBeNull();
});

test("a transaction runs one branch at its offset; gets see the state at their place; digest, index and changes follow", () => {
  const state = new StateMachine();
  state.apply(entry(1, "x", "1"));
  const txn = {
    compare: [{ key: "x", offset: 1 }],
    success: [
      { op: "put" as const, key: "y", value: "2" },
      { op: "get" as const, key: "y" },
      { op: "delete" as const, key: "x" },
      { op: "delete" as const, key: "nothing" },
    ],
    failure: [{ op: "get" as const, key: "x" }],
  };
  expect(state.apply({ offset: 2, epoch: 1, key: "", value: null, txn })).toEqual({
    kind: "txn",
    succeeded: true,
    results: [
      { op: "put", key: "y", offset: 2 },
      { op: "get", key: "y", value: "2", offset: 2 },
      { op: "delete", key: "x", deleted: true },
      { op: "delete", key: "nothing", deleted: false },
    ],
  });
  expect(state.apply({ offset: 3, epoch: 1, key: "", value: null, txn })).toEqual({ kind: "txn", succeeded: false, results: [{ op: "get", key: "x" }] });
  const plain = new StateMachine();
  plain.apply(entry(1, "y", "2"));
  expect(state.digest().digest).toBe(plain.digest().digest);
  expect(state.scan("", null, 10).map(([key]) => key)).toEqual(["y"]);
  expect(state.changes.from(1, 10)).toEqual([
    { key: "x", value: "1", offset: 1 },
    { key: "y", value: "2", offset: 2 },
    { key: "x", value: null, offset: 2 },
  ]);
});

test("scan walks keys in order from a prefix, after a key, up to a limit; a restored state scans alike", () => {
  const state = new StateMachine();
  ["b/2", "a", "b/1", "c", "b/3", "b"].forEach((key, index) => state.apply(entry(index + 1, key, "0")));
  state.apply(entry(7, "b/3", null));
  expect(state.scan("b/", null, 10).map(([key]) => key)).toEqual(["b/1", "b/2"]);
  expect(state.scan("b", "b/1", 10).map(([key]) => key)).toEqual(["b/2"]);
  expect(state.scan("", "a", 2).map(([key]) => key)).toEqual(["b", "b/1"]);
  expect(state.scan("", "zzz", 2)).toEqual([]);
  const restored = StateMachine.restore(7, 1, state.snapshotPairs());
  expect(restored.scan("", null, 10)).toEqual(state.scan("", null, 10));
  expect(restored.changes.completeAfter).toBe(7);
});
