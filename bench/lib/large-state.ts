import type { Entry, SnapshotPair } from "../../src/core/types.ts";

/** `keys` pairs of a large state (`user:<i>` → a small JSON object), in key order as a node's snapshot lists them. */
export function largeStatePairs(keys: number): SnapshotPair[] {
  return Array.from({ length: keys }, (_, index): SnapshotPair => [`user:${index}`, JSON.stringify({ n: index, name: `name-${index}` }), index + 1]).sort(
    ([a], [b]) => (a < b ? -1 : 1),
  );
}

/** A log entry of about 100 bytes over 10,000 keys, as the storage benchmarks write them. */
export function benchEntry(offset: number): Entry {
  return { offset, epoch: 1, key: `key-${offset % 10_000}`, value: JSON.stringify({ n: offset, text: "x".repeat(60) }) };
}
