import { expect, test } from "bun:test";
import type { WriteRecord } from "../tools/load.ts";
import { AckTracker, auditWrites, windowStats } from "./failover-audit.ts";

const write = (index: number, outcome: WriteRecord["outcome"], url = "http://a:1", answeredAtMs = index): WriteRecord => ({
  index,
  key: `key-${index}`,
  value: `value-${index}`,
  outcome,
  url,
  offset: index,
  answeredAtMs,
});

test("an acknowledged write missing afterwards is lost; an indeterminate one may be either; a failed one should be absent", () => {
  const records = [
    write(1, "acknowledged"),
    write(2, "acknowledged"),
    write(3, "acknowledged"),
    write(4, "indeterminate"),
    write(5, "indeterminate"),
    write(6, "failed"),
    write(7, "failed"),
  ];
  // key-2 is gone, key-3 holds another value: both lost. key-4 made it, key-5 did not; key-7 made it though refused.
  const stored = new Map([
    ["key-1", '"value-1"'],
    ["key-3", '"value-30"'],
    ["key-4", '"value-4"'],
    ["key-7", '"value-7"'],
  ]);
  const audit = auditWrites(records, stored);
  expect(audit).toEqual({
    acknowledged: 3,
    lostWrites: 2,
    lostExamples: ["key-2=value-2 (offset 2 by http://a:1)", "key-3=value-3 (offset 3 by http://a:1)"],
    failedWrites: 2,
    failedWritesApplied: 1,
    indeterminate: 2,
    indeterminateApplied: 1,
  });
});

test("window statistics: median of an even count is the middle pair's mean; values keep their order", () => {
  expect(windowStats([400, 100, 300, 200])).toEqual({ p50: 250, mean: 250, max: 400, all: [400, 100, 300, 200] });
  expect(windowStats([5])).toEqual({ p50: 5, mean: 5, max: 5, all: [5] });
  expect(windowStats([])).toEqual({ p50: 0, mean: 0, max: 0, all: [] });
});

test("the tracker: last ack per node, the first ack that passes a test, and a bounded wait that gives up", async () => {
  const tracker = new AckTracker();
  tracker.onWrite(write(1, "acknowledged", "http://old:1", 10));
  tracker.onWrite(write(2, "acknowledged", "http://old:1", 20));
  const fromNew = tracker.firstAck((record) => record.url !== "http://old:1" && record.answeredAtMs > 25, 5000);
  const twoMore = tracker.moreAcks(2, 5000);
  tracker.onWrite(write(3, "indeterminate", "http://old:1", 30));
  tracker.onWrite(write(4, "acknowledged", "http://new:2", 24));
  tracker.onWrite(write(5, "acknowledged", "http://new:2", 40));
  expect(await fromNew).toMatchObject({ index: 5 });
  expect(await twoMore).toBe(true);
  expect(tracker.lastAckAtMs("http://old:1")).toBe(20);
  expect(tracker.acknowledged).toBe(4);
  expect(tracker.records).toHaveLength(5);
  expect(await tracker.firstAck(() => true, 20)).toBeNull();
  expect(await tracker.moreAcks(1, 20)).toBe(false);
});
