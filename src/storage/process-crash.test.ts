import { expect, test } from "bun:test";
import { Random } from "../sim/random.ts";
import { SimFiles } from "../sim/sim-files.ts";
import { DiskStorage } from "./disk-storage.ts";
import type { FileSystem } from "./file-system.ts";
import { loadDir } from "./load.ts";
import { entry, queuedTimers } from "./storage-conformance.ts";

// What a node stores must survive a power cut once it answers, whatever happened before: a
// process that died with writes in the page cache, a directory sync that failed (found in review).

const dir = "/data";
const tuning = { compactionMinLogBytes: 512, logPreallocateBytes: 1024 };

const offsets = (entries: readonly { offset: number }[]) => entries.map((stored) => stored.offset);
/** What a start after a power cut now would find. */
const afterPowerCut = (files: SimFiles) => loadDir(files.durable(), dir, () => {});

/** The process dies (its machine stays up) inside the `count`-th sync to come, an fdatasync or a directory sync. */
function dieInSync(files: SimFiles, count: number): void {
  let left = count;
  const arm = () =>
    files.crashInNextSync(() => {
      if (--left > 0) {
        arm();
        return false;
      }
      files.processCrash();
      return true;
    });
  arm();
}

test("a start syncs what an earlier process left unsynced in the page cache (log records, an epoch file's rename) before it answers", () => {
  // Log records written, the process killed in their fdatasync; an epoch file renamed into place, killed in the directory's sync.
  const cases = [
    { name: "log", promise: false, dieAt: 1, entries: [1, 2, 3, 4], epoch: 0 },
    { name: "epoch", promise: true, dieAt: 2, entries: [1, 2], epoch: 5 },
  ];
  for (const { name, promise, dieAt, entries, epoch } of cases) {
    for (let seed = 1; seed <= 20; seed++) {
      const files = new SimFiles(new Random(seed));
      let queue = queuedTimers();
      const open = () => DiskStorage.open(dir, "fsync", { timers: queue.timers, clock: { nowMs: () => 0 }, log: () => {}, fs: files }, tuning);
      const first = open().storage;
      first.appendEntries([entry(1), entry(2)]);
      first.sync(() => {}, true);
      if (promise) first.promiseEpoch(5);
      else first.appendEntries([entry(3), entry(4)]);
      dieInSync(files, dieAt);
      first.sync(() => {
        throw new Error("answered a sync the process died in");
      }, true);
      queue.stop();
      queue = queuedTimers();

      const { storage, data } = open();
      expect({ name, seed, entries: offsets(data.entries), epoch: data.epoch }).toEqual({ name, seed, entries, epoch });
      // Held as stored: a leader resending 3 and 4, or fencing at 5 again, is answered with nothing written.
      let answered = false;
      storage.sync(() => {
        answered = true;
      });
      queue.runAll();
      expect(answered).toBe(true);
      const durable = afterPowerCut(files);
      expect({ name, seed, entries: offsets(durable.entries), epoch: durable.epoch }).toEqual({ name, seed, entries, epoch });
    }
  }
});

test("a directory sync that fails during compaction leaves the log's descriptor on the new file, and nothing is acknowledged until the directory is synced", () => {
  const files = new SimFiles(new Random(1));
  let dirSyncs = 0;
  let failAt = 0;
  const fs = new Proxy(files, {
    get(target, property) {
      if (property === "syncDir") {
        return (at: string) => {
          if (++dirSyncs === failAt) throw Object.assign(new Error(`EIO: i/o error, fsync '${at}'`), { code: "EIO" });
          target.syncDir(at);
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as FileSystem;
  const queue = queuedTimers();
  const open = () => DiskStorage.open(dir, "fsync", { timers: queue.timers, clock: { nowMs: () => 0 }, log: () => {}, fs }, tuning);
  const { storage } = open();
  const acknowledged: number[] = [];
  const store = (from: number, to: number) => {
    for (let offset = from; offset <= to; offset++) storage.appendEntries([entry(offset)]);
    storage.sync(() => acknowledged.push(to), true);
  };
  store(1, 5);
  // Compaction replaces the snapshot, then the log, each followed by a sync of the directory: the second one fails.
  failAt = dirSyncs + 2;
  storage.saveSnapshot({
    offset: 3,
    epoch: 1,
    pairs: [
      ["k1", "1", 1],
      ["k2", "2", 2],
      ["k3", "3", 3],
    ],
  });
  store(6, 8);
  expect(storage.unavailable).toContain("EIO");
  expect(acknowledged).toEqual([5]);
  queue.runAll();
  store(9, 10);
  queue.runAll();
  expect(storage.unavailable).toBeNull();
  expect(acknowledged).toEqual([5, 8, 10]);
  storage.close();
  // A clean stop, then a power cut: every acknowledged entry is there, after the snapshot.
  const durable = afterPowerCut(files);
  expect({ snapshot: durable.snapshot?.offset, entries: offsets(durable.entries) }).toEqual({ snapshot: 3, entries: [4, 5, 6, 7, 8, 9, 10] });
  expect(offsets(open().data.entries)).toEqual([4, 5, 6, 7, 8, 9, 10]);
});
