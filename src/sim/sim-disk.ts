import type { Entry } from "../core/types.ts";
import type { Clock, Timers } from "../node/env.ts";
import type { Storage, StoredData } from "../node/storage.ts";
import { DiskStorage } from "../storage/disk-storage.ts";
import { loadDir, storageFiles } from "../storage/load.ts";
import { decodeRecords } from "../storage/records.ts";
import type { HeldLog } from "./follower-host.ts";
import type { Random } from "./random.ts";
import { SimFiles } from "./sim-files.ts";

const dataDir = "/data";
const logPath = `${dataDir}/${storageFiles.log}`;
const snapshotPath = `${dataDir}/${storageFiles.snapshot}`;

/** Small, so that runs compact their log and preallocate zeros ahead of it often. */
const tuning = { compactionMinLogBytes: 1024, logPreallocateBytes: 2048 };

/**
 * One machine's disk: the production DiskStorage (SYNC=fsync) on simulated files (SimFiles) that
 * lose what was not synced when the machine crashes, keeping some of it, at times torn. A
 * process's writes are synced after a simulated delay (its group commit), or at once when it
 * asks (a leader's pump). What a restart finds is what DiskStorage's own start-up check makes
 * of the files; a damaged byte (`corrupt`: in a middle log record, or in the snapshot) is the
 * only way this disk forgets what it acknowledged.
 */
export class SimDisk {
  readonly files: SimFiles;
  /** Set by the mutant `follower-acks-before-sync`: sync calls back at once and syncs later. */
  acksBeforeSync = false;
  #decoded: { version: number; data: StoredData } | null = null;

  constructor(
    private readonly rng: Random,
    private readonly syncDelay: { minUs: number; maxUs: number },
    private readonly clock: Clock,
  ) {
    this.files = new SimFiles(rng);
  }

  /**
   * Starts a process on this disk: DiskStorage checks and loads the files (cutting a torn or
   * damaged log), and its timers are the process's, so that they die with it.
   */
  open(timers: Timers, log: (line: string) => void): { storage: Storage; stored: StoredData } {
    const delayed: Timers = {
      after: (delayMs, run) => timers.after(delayMs, run),
      every: (periodMs, run) => timers.every(periodMs, run),
      cancel: (handle) => timers.cancel(handle),
      // DiskStorage syncs what a turn handed over at the end of the turn: here, after the disk's delay.
      soon: (run) => timers.after(this.rng.int(this.syncDelay.minUs, this.syncDelay.maxUs) / 1000, run),
    };
    const { storage, data } = DiskStorage.open(dataDir, "fsync", { timers: delayed, clock: this.clock, log, fs: this.files }, tuning);
    return { storage: this.acksBeforeSync ? acksBeforeSync(storage) : storage, stored: data };
  }

  /** Whether the synced files hold `entry` (the same one) in the log or under the snapshot. */
  holds(entry: Entry): boolean {
    const { snapshot, entries } = this.#durable();
    const first = (snapshot?.offset ?? 0) + 1;
    if (entry.offset < first) return entry.offset > 0;
    const stored = entries[entry.offset - first];
    return stored !== undefined && stored.epoch === entry.epoch && stored.key === entry.key && stored.value === entry.value;
  }

  /** What the synced files hold, as the checker compares it (applied offset of the snapshot and the entries after it). */
  synced(): { appliedOffset: number; pending: readonly Entry[] } {
    const { snapshot, entries } = this.#durable();
    return { appliedOffset: snapshot?.offset ?? 0, pending: entries };
  }

  /** The machine lost power: what was not synced is lost, but for some of it (SimFiles.crash). */
  crash(): void {
    this.files.crash();
  }

  /** The process died, not the machine: what it wrote stays in the page cache, unsynced (SimFiles.processCrash). */
  processCrash(): void {
    this.files.processCrash();
  }

  /** The power fails inside the next sync to this disk (the log's, or a file replaced whole): `crash` runs then (SimFiles.crashInNextSync). */
  crashInNextSync(crash: () => boolean): void {
    this.files.crashInNextSync(crash);
  }

  cancelCrashInSync(): void {
    this.files.cancelCrashInSync();
  }

  /** The machine's disk is replaced by an empty one (an operator's `--fresh`): the next process starts empty. */
  wipe(): void {
    this.files.wipe();
  }

  /**
   * Damages one synced byte. Of the snapshot, when there is one, in a third of the cases: the next
   * start sets it aside with the log, and the node starts empty but for its promise. Else of a log
   * record that is not the last: the next start cuts the log there. Returns what that loses of
   * what the disk held, or null when it loses nothing.
   */
  corrupt(): { what: string; lost: HeldLog } | null {
    const before = this.#durable();
    const durable = this.files.durable();
    if (before.snapshot && this.rng.chance(1 / 3)) {
      this.files.flipByte(snapshotPath, this.rng.int(0, durable.read(snapshotPath).length - 1));
      const what = `a corrupt snapshot at offset ${before.snapshot.offset} is set aside with the log (the state and ${before.entries.length} synced entries after it lost)`;
      return { what, lost: { appliedOffset: before.snapshot.offset, pending: before.entries } };
    }
    if (!durable.exists(logPath)) return null;
    const { starts } = decodeRecords(durable.read(logPath), { zeroTail: true });
    if (starts.length < 2) return null;
    const record = this.rng.int(0, starts.length - 2);
    // A byte of the payload, past the 8-byte header: the checksum no longer matches.
    this.files.flipByte(logPath, this.rng.int(starts[record]! + 8, starts[record + 1]! - 1));
    const kept = this.#durable().entries;
    const lost = before.entries.filter((entry) => !kept.some((held) => held.offset === entry.offset));
    if (lost.length === 0) return null;
    return {
      what: `a corrupt record at offset ${lost[0]!.offset} cuts the log (${lost.length} synced entries lost)`,
      lost: { appliedOffset: lost[0]!.offset - 1, pending: lost },
    };
  }

  /** The synced files decoded by the production start-up check, on a copy (cached until they change). */
  #durable(): StoredData {
    const version = this.files.version;
    if (this.#decoded?.version !== version) {
      this.#decoded = { version, data: loadDir(this.files.durable(), dataDir, () => {}) };
    }
    return this.#decoded.data;
  }
}

/** The mutant `follower-acks-before-sync`: a storage whose sync calls back at once and syncs afterwards. */
function acksBeforeSync(storage: Storage): Storage {
  return {
    truncateAfter: (offset) => storage.truncateAfter(offset),
    appendEntries: (entries) => storage.appendEntries(entries),
    promiseEpoch: (epoch) => storage.promiseEpoch(epoch),
    keepWriteQuorum: (writeQuorum, floor) => storage.keepWriteQuorum(writeQuorum, floor),
    saveSnapshot: (snapshot) => storage.saveSnapshot(snapshot),
    get compactionDue() {
      return storage.compactionDue;
    },
    get unavailable() {
      return storage.unavailable;
    },
    sync(done) {
      done();
      storage.sync(() => {});
    },
    status: () => storage.status(),
  };
}
