import { expect, test } from "bun:test";
import type { Entry } from "../core/types.ts";
import type { StoredData } from "../node/storage.ts";
import { Random } from "../sim/random.ts";
import { SimFiles } from "../sim/sim-files.ts";
import { DiskStorage } from "./disk-storage.ts";
import { queuedTimers } from "./storage-conformance.ts";

// DiskStorage on the simulator's files (SimFiles): random appends, truncations, epoch promises,
// snapshots and syncs, and crashes between them or inside an fdatasync; a quarter of the seeds
// also fail fdatasyncs as Linux does. After every restart, whatever a sync callback acknowledged
// must be there: the epoch promise, and every entry no later truncation was handed to drop.

const seeds = 300;
const stepsPerSeed = 400;
const dir = "/data";
const tuning = { compactionMinLogBytes: 512, logPreallocateBytes: 1024 };

/** What the storage was handed, as a restart should load it (if all of it was synced). */
interface View {
  epoch: number;
  writeQuorum: number | null;
  writeQuorumFloor: number | null;
  snapshotOffset: number;
  entries: Entry[];
}

const copy = (view: View): View => ({ ...view, entries: view.entries.slice() });
const viewOf = (data: StoredData): View => ({
  epoch: data.epoch,
  writeQuorum: data.writeQuorum ?? null,
  writeQuorumFloor: data.writeQuorumFloor ?? null,
  snapshotOffset: data.snapshot?.offset ?? 0,
  entries: data.entries.slice(),
});

/** `quorums`: the write quorums (and floors) kept since the acknowledged view was taken, its own first: a restart finds one of them. */
function checkRestart(seed: number, acked: View, keptThrough: number, quorums: string[], loaded: StoredData): void {
  const where = `seed ${seed}`;
  expect(loaded.epoch, where).toBeGreaterThanOrEqual(acked.epoch);
  expect(quorums, where).toContain(`${loaded.writeQuorum ?? null}/${loaded.writeQuorumFloor ?? null}`);
  const snapshotOffset = loaded.snapshot?.offset ?? 0;
  expect(snapshotOffset, where).toBeGreaterThanOrEqual(acked.snapshotOffset);
  for (const entry of acked.entries) {
    if (entry.offset > keptThrough || entry.offset <= snapshotOffset) continue;
    expect(loaded.entries[entry.offset - snapshotOffset - 1], `${where}, offset ${entry.offset}`).toEqual(entry);
  }
}

test(`${seeds} seeds: after crashes anywhere, even inside an fdatasync or after a failed one, every acknowledged entry and promise is loaded`, () => {
  let crashesInSync = 0;
  let stepsUnavailable = 0;
  for (let seed = 1; seed <= seeds; seed++) {
    const rng = new Random(seed);
    const files = new SimFiles(rng);
    const clock = { nowMs: () => 0 };
    let queue = queuedTimers();
    // A start whose directory sync fails (a failing disk) does not start; its supervisor tries again.
    const open = () => {
      for (let attempt = 1; ; attempt++) {
        try {
          return DiskStorage.open(dir, "fsync", { timers: queue.timers, clock, log: () => {}, fs: files }, tuning);
        } catch (error) {
          if ((error as { code?: string }).code !== "EIO" || attempt >= 50) throw error;
        }
      }
    };
    let { storage, data } = open();
    if (seed % 4 === 0) files.syncFailureChance = 0.2;
    let handed = viewOf(data);
    // What the latest sync callback acknowledged, and how many truncations had been handed then:
    // a later one may drop acknowledged entries after its offset, as a new leader's would.
    let acked = { view: copy(handed), truncations: 0, quorums: 0 };
    let truncatedAt: number[] = [];
    const quorumOf = (view: View) => `${view.writeQuorum}/${view.writeQuorumFloor}`;
    let quorumsKept = [quorumOf(handed)];
    let crashed = false;
    const restart = () => {
      queue = queuedTimers();
      ({ storage, data } = open());
      const keptThrough = Math.min(Number.POSITIVE_INFINITY, ...truncatedAt.slice(acked.truncations));
      checkRestart(seed, acked.view, keptThrough, quorumsKept.slice(acked.quorums), data);
      handed = viewOf(data);
      acked = { view: copy(handed), truncations: 0, quorums: 0 };
      truncatedAt = [];
      quorumsKept = [quorumOf(handed)];
      crashed = false;
    };
    for (let step = 0; step < stepsPerSeed; step++) {
      const last = handed.snapshotOffset + handed.entries.length;
      const roll = rng.float();
      if (roll < 0.4) {
        const batch = Array.from({ length: rng.int(1, 3) }, (_, index) => ({
          offset: last + 1 + index,
          epoch: handed.epoch,
          key: `k${rng.int(0, 4)}`,
          value: `${seed}.${step}`,
        }));
        storage.appendEntries(batch);
        handed.entries.push(...batch);
      } else if (roll < 0.47) {
        storage.promiseEpoch(++handed.epoch);
      } else if (roll < 0.5) {
        handed.writeQuorum = rng.int(0, 5);
        handed.writeQuorumFloor = rng.chance(0.5) ? null : rng.int(0, handed.writeQuorum);
        storage.keepWriteQuorum(handed.writeQuorum, handed.writeQuorumFloor);
        quorumsKept.push(quorumOf(handed));
      } else if (roll < 0.56 && last > handed.snapshotOffset) {
        const after = rng.int(handed.snapshotOffset, last - 1);
        storage.truncateAfter(after);
        handed.entries.length = after - handed.snapshotOffset;
        truncatedAt.push(after);
      } else if (roll < 0.6 && storage.compactionDue && last > handed.snapshotOffset) {
        storage.saveSnapshot({ offset: last, epoch: handed.epoch, pairs: [["k", JSON.stringify(last), last]] });
        handed = { ...handed, snapshotOffset: last, entries: [] };
      } else if (roll < 0.85) {
        const handedNow = { view: copy(handed), truncations: truncatedAt.length, quorums: quorumsKept.length - 1 };
        storage.sync(() => {
          acked = handedNow;
        });
      } else if (roll < 0.95) {
        queue.runAll();
      } else {
        if (rng.chance(0.5)) {
          files.crashInNextSync(() => {
            crashed = true;
            crashesInSync++;
            queue.stop();
            files.crash();
            return true;
          });
          storage.sync(() => {});
          queue.runAll();
        }
        if (!crashed) files.crash();
        files.cancelCrashInSync();
        restart();
      }
      if (storage.unavailable !== null) stepsUnavailable++;
    }
    queue.runAll();
    files.crash();
    restart();
  }
  // The runs met what they are meant to meet.
  expect(crashesInSync).toBeGreaterThan(seeds * 2);
  expect(stepsUnavailable).toBeGreaterThan(seeds);
});

test("entries acknowledged after a corrupt snapshot was set aside survive a crash: the snapshot does not come back", () => {
  for (let seed = 1; seed <= 50; seed++) {
    const files = new SimFiles(new Random(seed));
    const queue = queuedTimers();
    const open = () => DiskStorage.open(dir, "fsync", { timers: queue.timers, clock: { nowMs: () => 0 }, log: () => {}, fs: files }, tuning);
    const first = open().storage;
    first.appendEntries([{ offset: 1, epoch: 1, key: "k", value: "1" }]);
    first.saveSnapshot({ offset: 1, epoch: 1, pairs: [["k", "1", 1]] });
    files.flipByte(`${dir}/snapshot`, 20);
    const { storage, data } = open();
    expect(data.snapshot, `seed ${seed}`).toBeNull();
    const entry = { offset: 1, epoch: 2, key: "k", value: "2" };
    let acknowledged = false;
    storage.appendEntries([entry]);
    storage.sync(() => {
      acknowledged = true;
    });
    queue.runAll();
    expect(acknowledged).toBe(true);
    files.crash();
    expect(open().data.entries, `seed ${seed}`).toEqual([entry]);
  }
});
