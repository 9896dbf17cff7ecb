import { afterAll, expect, test } from "bun:test";
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { realClock, realTimers, type TimerHandle, type Timers } from "../node/env.ts";
import { DiskStorage } from "./disk-storage.ts";
import { nodeFileSystem } from "./file-system.ts";
import { entry, recordsEnd } from "./storage-conformance.ts";

const root = mkdtempSync(join(tmpdir(), "quorumkv-sync-failure-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * An fdatasync that fails as Linux's can: the bytes written since the last sync that returned
 * never reach the disk and the page cache keeps no dirty copy of them, so that the next
 * fdatasync finds nothing to write and returns. Here that is the log's bytes since the last good
 * sync overwritten with zeros (and synced) before the error is thrown.
 */
function linuxLikeDisk(logPath: string) {
  let goodEnd = 0;
  const disk = {
    failNext: 0,
    calls: 0,
    fdatasync(fd: number): void {
      disk.calls++;
      if (disk.failNext === 0) {
        fdatasyncSync(fd);
        goodEnd = recordsEnd(logPath);
        return;
      }
      disk.failNext--;
      const end = recordsEnd(logPath);
      const lost = openSync(logPath, "r+");
      writeSync(lost, Buffer.alloc(end - goodEnd), 0, end - goodEnd, goodEnd);
      fdatasyncSync(lost);
      closeSync(lost);
      throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
    },
  };
  return disk;
}

/** Timers whose `after` only records what is due: the test fires a retry when it chooses (`soon` is the real one). */
function handTimers() {
  const due = new Map<number, () => void>();
  let next = 1;
  const timers: Timers = {
    after: (_delayMs, run) => {
      due.set(next, run);
      return next++;
    },
    every: () => {
      throw new Error("not used by DiskStorage");
    },
    cancel: (handle: TimerHandle) => {
      due.delete(handle as number);
    },
    soon: (run) => setImmediate(run),
  };
  return {
    timers,
    get pending() {
      return due.size;
    },
    /** Runs every timer due so far, as if their time had come. */
    fire() {
      const runs = [...due.values()];
      due.clear();
      for (const run of runs) run();
    },
  };
}

/** A DATA_DIR under `name` on a disk whose fdatasyncs fail on demand, with hand-fired timers: its env reopens it. */
function failingDir(name: string) {
  const dir = join(root, name);
  const disk = linuxLikeDisk(join(dir, "log"));
  const clock = handTimers();
  const env = { clock: realClock, timers: clock.timers, log: () => {}, fs: { ...nodeFileSystem, fdatasync: disk.fdatasync } };
  /** Opens the directory and lets the start's first sync (of what it found) happen, so that `disk.calls` counts from there. */
  const open = () => {
    const opened = DiskStorage.open(dir, "fsync", env);
    opened.storage.sync(() => {}, true);
    disk.calls = 0;
    return opened;
  };
  return { dir, disk, clock, env, open };
}

const oneTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

test("a failed fdatasync acknowledges nothing, and the retry writes the lost bytes again before it syncs: every entry is on disk", async () => {
  const { dir, disk, clock, env, open } = failingDir("eio");
  const { storage } = open();
  const stored: number[] = [];
  const append = (offset: number) => {
    storage.appendEntries([entry(offset)]);
    storage.sync(() => stored.push(offset), true);
  };

  append(1);
  expect(stored).toEqual([1]);
  disk.failNext = 1;
  append(2);
  expect(stored).toEqual([1]);
  expect(storage.unavailable).toContain("EIO");
  expect(clock.pending).toBe(1);
  // Handed over while the disk is failing (a follower goes on receiving): it waits for the retry,
  // startNow or not, and nothing is written or synced before then.
  append(3);
  storage.appendEntries([entry(4)]);
  storage.sync(() => stored.push(4));
  await oneTurn();
  expect(stored).toEqual([1]);
  expect(disk.calls).toBe(2);
  clock.fire();
  await oneTurn();
  expect(stored).toEqual([1, 2, 3, 4]);
  expect(storage.unavailable).toBeNull();
  expect(disk.calls).toBe(3);
  storage.close();

  const reopened = DiskStorage.open(dir, "fsync", env);
  expect(reopened.data.entries.map((stored) => stored.offset)).toEqual([1, 2, 3, 4]);
  reopened.storage.close();
});

test("closed after a failed fdatasync, a storage writes nothing more: its retry does not land in the next one's file", async () => {
  const { dir, disk, clock, env } = failingDir("closed");
  const first = DiskStorage.open(dir, "fsync", env).storage;
  first.appendEntries([entry(1)]);
  first.sync(() => {}, true);
  disk.failNext = 1;
  first.appendEntries([{ ...entry(2), value: '"never acknowledged"' }]);
  first.sync(() => {
    throw new Error("acknowledged what the disk lost");
  }, true);
  expect(first.unavailable).toContain("EIO");
  first.close();
  expect(clock.pending).toBe(0);
  // The same directory, opened again in this process (a test's reopen): the descriptor number is likely the same.
  const second = DiskStorage.open(dir, "fsync", { ...env, timers: realTimers });
  expect(second.data.entries.map((stored) => stored.offset)).toEqual([1]);
  let acknowledged = false;
  second.storage.appendEntries([{ ...entry(2), value: '"acknowledged"' }]);
  second.storage.sync(() => {
    acknowledged = true;
  }, true);
  expect(acknowledged).toBe(true);
  // Whatever the first one still had due, its time comes now.
  clock.fire();
  await oneTurn();
  second.storage.close();
  const third = DiskStorage.open(dir, "fsync", { ...env, timers: realTimers });
  expect(third.data.entries.map((stored) => stored.value)).toEqual([entry(1).value, '"acknowledged"']);
  third.storage.close();
});

test("a sync asked for by a callback waits for the other callbacks of its group: they run in order", () => {
  const dir = join(root, "order");
  const { storage } = DiskStorage.open(dir, "fsync", { clock: realClock, timers: realTimers, log: () => {} });
  const order: string[] = [];
  storage.appendEntries([entry(1)]);
  storage.sync(() => {
    order.push("a");
    storage.appendEntries([entry(2)]);
    storage.sync(() => order.push("c"), true);
  });
  storage.sync(() => order.push("b"), true);
  expect(order).toEqual(["a", "b"]);
  return new Promise<void>((resolve) =>
    storage.sync(() => {
      expect(order).toEqual(["a", "b", "c"]);
      storage.close();
      resolve();
    }),
  );
});

test("a flush due at the end of the turn when a sync fails waits for the retry too", async () => {
  const { dir, disk, clock, env, open } = failingDir("eio-due");
  const { storage } = open();
  const stored: number[] = [];
  storage.appendEntries([entry(1)]);
  storage.sync(() => stored.push(1));
  disk.failNext = 1;
  storage.appendEntries([entry(2)]);
  storage.sync(() => stored.push(2), true);
  await oneTurn();
  expect(disk.calls).toBe(1);
  expect(stored).toEqual([]);
  expect(storage.unavailable).toContain("EIO");
  clock.fire();
  await oneTurn();
  expect(stored).toEqual([1, 2]);
  expect(disk.calls).toBe(2);
  storage.close();
  const reopened = DiskStorage.open(dir, "fsync", env);
  expect(reopened.data.entries.map((stored) => stored.offset)).toEqual([1, 2]);
  reopened.storage.close();
});

test("two failures in a row, then a good sync: still nothing lost", async () => {
  const { dir, disk, clock, env, open } = failingDir("eio-twice");
  const { storage } = open();
  let stored = false;
  storage.appendEntries([entry(1), entry(2)]);
  disk.failNext = 2;
  storage.sync(() => {
    stored = true;
  }, true);
  clock.fire();
  await oneTurn();
  expect(stored).toBe(false);
  clock.fire();
  await oneTurn();
  expect(stored).toBe(true);
  expect(disk.calls).toBe(3);
  storage.close();
  const reopened = DiskStorage.open(dir, "fsync", env);
  expect(reopened.data.entries.map((stored) => stored.offset)).toEqual([1, 2]);
  reopened.storage.close();
});
