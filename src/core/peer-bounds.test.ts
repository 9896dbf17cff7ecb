import { expect, test } from "bun:test";
import { constants } from "./constants.ts";
import { entriesAheadMax, epochProblem, recoveryDataProblem, replicateProblem, snapshotProblem } from "./peer-bounds.ts";
import type { Entry, RecoveryData, ReplicateMessage, SnapshotChunk } from "./types.ts";

const follower = { epoch: 5, lastOffset: 100 };
const isClientKey = (key: string) => key.length > 0 && key.length <= 8 && !/[\u0000-\u001f]/.test(key);
const entry = (offset: number, key = "k", value: string | null = "1", epoch = 5): Entry => ({ offset, epoch, key, value });
const replicate = (change: Partial<ReplicateMessage>): ReplicateMessage => ({
  epoch: 5,
  leaderId: "L",
  prevOffset: 100,
  prevEpoch: 5,
  entries: [entry(101)],
  commitOffset: 100,
  ...change,
});

test("epochs: at most epochJumpMax above the follower's, never beyond epochMax", () => {
  const table: [epoch: number, refused: boolean][] = [
    [1, false],
    [6, false],
    [5 + constants.epochJumpMax, false],
    [6 + constants.epochJumpMax, true],
    [Number.MAX_SAFE_INTEGER, true],
  ];
  for (const [epoch, refused] of table) expect([epoch, epochProblem(follower, epoch) !== null]).toEqual([epoch, refused]);
  expect(epochProblem({ epoch: constants.epochMax, lastOffset: 0 }, constants.epochMax + 1)).toContain("epochMax");
});

test("replicate: offsets, how far ahead, entry epochs and keys", () => {
  const table: [name: string, message: ReplicateMessage, refused: boolean][] = [
    ["an honest message", replicate({}), false],
    ["an epoch marker", replicate({ entries: [entry(101, "", null)] }), false],
    ["a marker with a value", replicate({ entries: [entry(101, "", "1")] }), true],
    ["a control character", replicate({ entries: [entry(101, "a\u0001")] }), true],
    ["a key too long", replicate({ entries: [entry(101, "123456789")] }), true],
    ["an entry of a newer epoch", replicate({ entries: [entry(101, "k", "1", 6)] }), true],
    ["a commit beyond offsetMax", replicate({ commitOffset: constants.offsetMax + 1 }), true],
    ["entries as far ahead as a leader pipelines", replicate({ prevOffset: 100 + entriesAheadMax, entries: [entry(101 + entriesAheadMax)] }), false],
    ["entries further ahead", replicate({ prevOffset: 101 + entriesAheadMax, entries: [entry(102 + entriesAheadMax)] }), true],
    ["a heartbeat probing far ahead (answered gap)", replicate({ prevOffset: 10_000_000, entries: [] }), false],
    ["a heartbeat beyond offsetMax", replicate({ prevOffset: Number.MAX_SAFE_INTEGER, entries: [] }), true],
    ["an older epoch, anything in it (answered stale_epoch)", replicate({ epoch: 4, entries: [entry(101, "", "1")] }), false],
  ];
  for (const [name, message, refused] of table) expect([name, replicateProblem(follower, message, isClientKey) !== null]).toEqual([name, refused]);
});

test("snapshot: at most the commit it announces, within offsetMax, client keys only", () => {
  const chunk = (change: Partial<SnapshotChunk>): SnapshotChunk => ({
    epoch: 5,
    leaderId: "L",
    snapshotOffset: 500,
    snapshotEpoch: 5,
    chunk: 0,
    pairs: [["k", "1", 3]],
    done: true,
    commitOffset: 500,
    ...change,
  });
  const table: [name: string, chunk: SnapshotChunk, refused: boolean][] = [
    ["an honest chunk", chunk({}), false],
    ["an offset beyond the commit", chunk({ snapshotOffset: 501 }), true],
    ["at 2^53 - 1", chunk({ snapshotOffset: Number.MAX_SAFE_INTEGER, commitOffset: Number.MAX_SAFE_INTEGER }), true],
    ["an empty key", chunk({ pairs: [["", "1", 3]] }), true],
    ["a snapshot epoch newer than the chunk's", chunk({ snapshotEpoch: 6 }), true],
  ];
  for (const [name, value, refused] of table) expect([name, snapshotProblem(follower, value, isClientKey) !== null]).toEqual([name, refused]);
});

test("transactions and conditional writes: every key a client key, a txn only on the empty key, no condition on a marker", () => {
  const txn = (key: string) => ({ compare: [{ key: "a", offset: 0 }], success: [{ op: "put" as const, key, value: "1" }], failure: [] });
  const table: [Entry, refused: boolean][] = [
    [{ ...entry(101, "", null), txn: txn("b") }, false],
    [{ ...entry(101, "", null), txn: txn("\u0001") }, true],
    [{ ...entry(101, "a", null), txn: txn("b") }, true],
    [{ ...entry(101, "a", "1"), ifOffset: 0 }, false],
    [{ ...entry(101, "", null), ifOffset: 0 }, true],
  ];
  for (const [candidate, refused] of table) {
    expect([candidate, replicateProblem(follower, replicate({ entries: [candidate] }), isClientKey) !== null]).toEqual([candidate, refused]);
  }
});

test("recovery data: what a follower sends passes; a key twice, a pair after the snapshot, an entry out of place or malformed does not", () => {
  const honest: RecoveryData = {
    epoch: 3,
    appliedOffset: 2,
    appliedEpoch: 1,
    pairs: [
      ["a", "1", 1],
      ["b", '"x"', 2],
    ],
    entries: [entry(3, "c", "2"), { ...entry(4, "", null), epoch: 3 }],
  };
  const table: [string, RecoveryData, refused: boolean][] = [
    ["honest", honest, false],
    ["empty", { epoch: 0, appliedOffset: 0, appliedEpoch: 0, pairs: [], entries: [] }, false],
    ["a key twice", { ...honest, pairs: [honest.pairs[0]!, ["a", "2", 2]] }, true],
    ["a pair after the snapshot", { ...honest, pairs: [["a", "1", 3]] }, true],
    ["a pair that is not a triple", { ...honest, pairs: [["a", "1"] as never] }, true],
    ["an offset gap", { ...honest, entries: [entry(3, "c", "2"), entry(5, "d", "3")] }, true],
    ["entries from the wrong offset", { ...honest, entries: [entry(4, "c", "2")] }, true],
    ["an entry without a key", { ...honest, entries: [{ offset: 3, epoch: 1, value: "1" } as never] }, true],
    ["a fractional offset", { ...honest, appliedOffset: 2.5 }, true],
  ];
  for (const [name, data, refused] of table) expect([name, recoveryDataProblem(data) !== null]).toEqual([name, refused]);
});
