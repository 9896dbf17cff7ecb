import { expect, test } from "bun:test";
import type { SnapshotPair } from "../core/types.ts";
import { encodeFrame, encodeRecord } from "./records.ts";
import { decodeSnapshot, snapshotRecords } from "./snapshot-file.ts";

const file = (records: Iterable<Buffer>) => Buffer.concat([...records]);

test("pairs come back exactly: any Unicode, a lone surrogate, an empty string, a pair larger than a record, many records", () => {
  const pairs: SnapshotPair[] = [
    ["plain", '{"n":1}', 1],
    ["ключ-🔑", '"значение ✓"', 2],
    ["lone-\ud800-surrogate", '"\udfff"', 3],
    ["", "", 4],
    ["big", JSON.stringify("x".repeat(5000)), 2 ** 40],
    ...Array.from({ length: 300 }, (_, index): SnapshotPair => [`key-${index}`, String(index), 10 + index]),
  ];
  const records = [...snapshotRecords({ offset: 2 ** 40, epoch: 7, pairs }, 1024)];
  expect(records.length).toBeGreaterThan(5);
  expect(decodeSnapshot(file(records))).toEqual({ snapshot: { offset: 2 ** 40, epoch: 7, pairs } });
});

test("the older format (pairs as JSON records) still loads", () => {
  const pairs: SnapshotPair[] = [
    ["a", "1", 1],
    ["b", '"two"', 2],
  ];
  const bytes = file([encodeRecord({ offset: 2, epoch: 1 }), encodeRecord({ pairs }), encodeRecord({ end: 2 })]);
  expect(decodeSnapshot(bytes)).toEqual({ snapshot: { offset: 2, epoch: 1, pairs } });
});

test("a pair record that checks but does not decode whole, or a count that disagrees, is refused at that record", () => {
  const head = encodeRecord({ offset: 1, epoch: 1, pairs: "binary" });
  const truncatedPair = Buffer.alloc(6);
  truncatedPair.writeUInt32LE(100, 0);
  expect(decodeSnapshot(file([head, encodeFrame(truncatedPair), encodeRecord({ end: 1 })]))).toEqual({ badByteOffset: head.length });
  const [first, pairsRecord] = [...snapshotRecords({ offset: 1, epoch: 1, pairs: [["k", "1", 1]] }, 1024)];
  const wrongEnd = encodeRecord({ end: 2 });
  expect(decodeSnapshot(file([first!, pairsRecord!, wrongEnd]))).toEqual({ badByteOffset: first!.length + pairsRecord!.length });
  expect(decodeSnapshot(file([first!, pairsRecord!]))).toEqual({ badByteOffset: first!.length });
});
