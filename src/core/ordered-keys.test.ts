import { expect, test } from "bun:test";
import fc from "fast-check";
import { OrderedKeys } from "./ordered-keys.ts";

test("keeps keys in order through inserts, deletes and chunk splits, and seeks inclusively or after", () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.string({ maxLength: 4 })), { maxLength: 3000 }), fc.string({ maxLength: 4 }), (ops, from) => {
      const ordered = new OrderedKeys();
      const model = new Set<string>();
      for (const [add, key] of ops) {
        if (add && !model.has(key)) {
          ordered.insert(key);
          model.add(key);
        } else if (!add && model.has(key)) {
          ordered.delete(key);
          model.delete(key);
        }
      }
      const sorted = [...model].sort();
      expect(ordered.size).toBe(model.size);
      expect([...ordered.from("")]).toEqual(sorted);
      expect([...ordered.from(from)]).toEqual(sorted.filter((key) => key >= from));
      expect([...ordered.from(from, true)]).toEqual(sorted.filter((key) => key > from));
    }),
    { numRuns: 60 },
  );
});

test("a bulk load from sorted keys is as if each was inserted; inserts after it stay in order", () => {
  const keys = Array.from({ length: 5000 }, (_, i) => `k${String(i * 2).padStart(6, "0")}`);
  const ordered = OrderedKeys.fromSorted(keys);
  ordered.insert("k000001");
  ordered.delete("k000000");
  expect([...ordered.from("k0000")].slice(0, 3)).toEqual(["k000001", "k000002", "k000004"]);
  expect([...ordered.from("")].length).toBe(5000);
});

test("an index that lost track of a key says so rather than answering wrong scans", () => {
  const ordered = new OrderedKeys();
  ordered.insert("a");
  expect(() => ordered.insert("a")).toThrow(/indexed twice/);
  expect(() => ordered.delete("b")).toThrow(/not indexed/);
});
