import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { Entry } from "../core/types.ts";
import type { TimerHandle, Timers } from "../node/env.ts";
import type { Storage, StoredData } from "../node/storage.ts";

/** A storage under test, and how to read back what it keeps as a restarted node would (closing it first). */
export interface StorageUnderTest {
  storage: Storage;
  reopen(): StoredData;
}

/** Where a log's records end: after its last non-zero byte (a record ends in JSON's `}`), before the zeros preallocated after them. */
export function recordsEnd(path: string): number {
  return readFileSync(path).findLastIndex((byte) => byte !== 0) + 1;
}

export function entry(offset: number, epoch = 1, key = `k${offset}`, value: string | null = JSON.stringify(offset)): Entry {
  return { offset, epoch, key, value };
}

const entries = (from: number, to: number, epoch = 1) => Array.from({ length: to - from + 1 }, (_, index) => entry(from + index, epoch));

/** Resolves once `storage` says everything handed over so far is stored. */
export const synced = (storage: Storage) => new Promise<void>((resolve) => storage.sync(resolve));

/**
 * What every Storage that keeps data must do (unjs/unstorage's shared driver test): what was
 * synced comes back at start-up, truncations and snapshots included; `sync` calls back in order.
 */
export function storageConformance(open: () => StorageUnderTest): void {
  test("synced entries and the epoch promise come back", async () => {
    const { storage, reopen } = open();
    storage.promiseEpoch(3);
    storage.appendEntries(entries(1, 5));
    storage.appendEntries(entries(6, 7, 3));
    await synced(storage);
    const data = reopen();
    expect(data.epoch).toBe(3);
    expect(data.snapshot).toBeNull();
    expect(data.entries).toEqual([...entries(1, 5), ...entries(6, 7, 3)]);
  });

  test("a truncated tail is replaced by the entries appended after it", async () => {
    const { storage, reopen } = open();
    storage.appendEntries(entries(1, 6));
    await synced(storage);
    storage.truncateAfter(3);
    storage.appendEntries([entry(4, 2, "other")]);
    await synced(storage);
    expect(reopen().entries).toEqual([...entries(1, 3), entry(4, 2, "other")]);
  });

  test("the write quorum floor comes back with the epoch promise: null until kept", async () => {
    const never = open();
    never.storage.promiseEpoch(2);
    await synced(never.storage);
    expect(never.reopen()).toMatchObject({ epoch: 2, writeQuorumFloor: null });
  });

  test("an epoch promise never goes back", async () => {
    const { storage, reopen } = open();
    storage.promiseEpoch(5);
    storage.promiseEpoch(4);
    await synced(storage);
    expect(reopen().epoch).toBe(5);
  });

  test("the write quorum and its floor kept beside the epoch promise come back, the latest ones", async () => {
    const { storage, reopen } = open();
    storage.promiseEpoch(2);
    storage.keepWriteQuorum(5, 3);
    storage.keepWriteQuorum(4, 2);
    await synced(storage);
    expect(reopen()).toMatchObject({ epoch: 2, writeQuorum: 4, writeQuorumFloor: 2 });
  });

  test("a snapshot replaces the entries up to it; those after it stay", async () => {
    const { storage, reopen } = open();
    storage.appendEntries(entries(1, 10));
    storage.saveSnapshot({
      offset: 8,
      epoch: 1,
      pairs: [
        ["a", "1", 3],
        ["b", "2", 8],
      ],
    });
    storage.appendEntries(entries(11, 12));
    await synced(storage);
    const data = reopen();
    expect(data.snapshot).toEqual({
      offset: 8,
      epoch: 1,
      pairs: [
        ["a", "1", 3],
        ["b", "2", 8],
      ],
    });
    expect(data.entries).toEqual([...entries(9, 12)]);
  });

  test("a snapshot beyond the log (installed from the leader) leaves no entries before it", async () => {
    const { storage, reopen } = open();
    storage.appendEntries(entries(1, 3));
    storage.truncateAfter(0);
    storage.saveSnapshot({ offset: 50, epoch: 2, pairs: [] });
    storage.appendEntries([entry(51, 2)]);
    await synced(storage);
    const data = reopen();
    expect(data.snapshot?.offset).toBe(50);
    expect(data.entries).toEqual([entry(51, 2)]);
  });

  test("sync calls back once per call, in order, after what was handed over", async () => {
    const { storage, reopen } = open();
    const calls: number[] = [];
    const all: Promise<void>[] = [];
    for (let index = 1; index <= 50; index++) {
      storage.appendEntries([entry(index)]);
      all.push(
        new Promise((resolve) =>
          storage.sync(() => {
            calls.push(index);
            resolve();
          }),
        ),
      );
    }
    await Promise.all(all);
    expect(calls).toEqual(entries(1, 50).map((e) => e.offset));
    expect(reopen().entries.length).toBe(50);
  });

  test("a sync with nothing new still waits for the sync of earlier writes (a heartbeat's answer acknowledges them too)", async () => {
    const { storage, reopen } = open();
    const order: string[] = [];
    storage.appendEntries([entry(1)]);
    const first = new Promise<void>((resolve) =>
      storage.sync(() => {
        order.push("entries");
        resolve();
      }),
    );
    const second = new Promise<void>((resolve) =>
      storage.sync(() => {
        order.push("heartbeat");
        resolve();
      }),
    );
    await Promise.all([first, second]);
    expect(order).toEqual(["entries", "heartbeat"]);
    expect(reopen().entries).toEqual([entry(1)]);
  });

  test("status names the storage", () => {
    const { storage } = open();
    expect(storage.status().unavailable).toBeNull();
    expect(storage.status().dir).not.toBeNull();
  });
}

/** Timers run by hand, in the order they were set: delays are not modelled, only order. `stop` is a process's death: nothing more runs. */
export function queuedTimers() {
  let due: { handle: number; run: () => void }[] = [];
  let next = 1;
  let stopped = false;
  const timers: Timers = {
    after: (_delayMs, run) => {
      if (!stopped) due.push({ handle: next, run });
      return next++;
    },
    every: () => {
      throw new Error("not used by DiskStorage");
    },
    cancel: (handle: TimerHandle) => {
      due = due.filter((timer) => timer.handle !== handle);
    },
    soon: (run) => {
      if (!stopped) due.push({ handle: next++, run });
    },
  };
  const runAll = () => {
    for (let rounds = 0; due.length > 0 && rounds < 10; rounds++) {
      const now = due;
      due = [];
      for (const timer of now) if (!stopped) timer.run();
    }
  };
  const stop = () => {
    stopped = true;
    due = [];
  };
  return { timers, runAll, stop };
}
