import type { Entry, SnapshotPair } from "../core/types.ts";
import type { Timers } from "../node/env.ts";
import type { Storage, StorageStatus, StoredData, StoredSnapshot } from "../node/storage.ts";
import type { Random } from "./random.ts";

/** What a follower's disk holds once synced: the same data DiskStorage keeps in its files. */
interface DiskImage {
  epoch: number;
  writeQuorum: number | null;
  writeQuorumFloor: number | null;
  snapshot: { offset: number; epoch: number; pairs: SnapshotPair[] } | null;
  entries: Entry[];
}

type Write =
  | { truncateAfter: number }
  | { append: readonly Entry[] }
  | { epoch: number }
  | { writeQuorum: number | null; floor: number | null }
  | { snapshot: DiskImage["snapshot"] };

/** Log entries after the snapshot beyond which the node is told to compact (small, so runs compact). */
const compactionEntries = 16;

/**
 * One follower machine's disk (src/storage/disk-storage.ts in simulation). Writes reach the disk
 * in order; `sync` calls back after a simulated sync time, with every write made meanwhile
 * (group commit). A crash keeps what was synced and a random prefix of what was not, the last
 * write possibly torn (a prefix of its entries): the records DiskStorage's start-up check
 * keeps. A corrupt record in the middle of the log cuts it there at the next start, losing
 * synced entries: the only way this disk forgets what it acknowledged.
 */
export class SimDisk {
  #synced: DiskImage = { epoch: 0, writeQuorum: null, writeQuorumFloor: null, snapshot: null, entries: [] };
  #unsynced: Write[] = [];
  /** Set by the mutant `follower-acks-before-sync`: sync calls back at once and syncs later. */
  acksBeforeSync = false;

  constructor(
    private readonly rng: Random,
    private readonly syncDelay: { minUs: number; maxUs: number },
  ) {}

  /** What a process starting on this disk loads. */
  load(): StoredData {
    const { epoch, writeQuorum, writeQuorumFloor, snapshot, entries } = this.#synced;
    return { epoch, writeQuorum, writeQuorumFloor, snapshot: snapshot && { ...snapshot, pairs: snapshot.pairs.slice() }, entries: entries.slice() };
  }

  /** Whether what is synced holds `entry` (the same one) in its log or under its snapshot. */
  holds(entry: Entry): boolean {
    const { snapshot, entries } = this.#synced;
    const first = (snapshot?.offset ?? 0) + 1;
    if (entry.offset < first) return entry.offset > 0;
    const stored = entries[entry.offset - first];
    return stored !== undefined && stored.epoch === entry.epoch && stored.key === entry.key && stored.value === entry.value;
  }

  /** The synced image, as the checker compares it (applied offset of the snapshot and the entries after it). */
  synced(): { appliedOffset: number; pending: readonly Entry[] } {
    return { appliedOffset: this.#synced.snapshot?.offset ?? 0, pending: this.#synced.entries };
  }

  /** The process died: what was not synced is lost, but for a random prefix that reached the disk (the last maybe torn). */
  crash(): void {
    const reached = this.rng.int(0, this.#unsynced.length);
    const writes = this.#unsynced.slice(0, reached);
    const torn = this.#unsynced[reached];
    if (torn && "append" in torn && torn.append.length > 1) writes.push({ append: torn.append.slice(0, this.rng.int(1, torn.append.length - 1)) });
    for (const write of writes) apply(this.#synced, write);
    this.#unsynced = [];
  }

  /** The machine's disk is replaced by an empty one (an operator's `--fresh`): the next process starts empty. */
  wipe(): void {
    this.#synced = { epoch: 0, writeQuorum: null, writeQuorumFloor: null, snapshot: null, entries: [] };
    this.#unsynced = [];
  }

  /**
   * A record in the middle of the log is damaged: the next start cuts the log before it. Returns
   * the synced entries lost, or null when the log is too short to have a middle.
   */
  corrupt(): Entry[] | null {
    const entries = this.#synced.entries;
    if (entries.length < 2) return null;
    const at = this.rng.int(0, entries.length - 2);
    return entries.splice(at);
  }

  /** A Storage for one process on this disk; its sync callbacks die with the process's timers. */
  storage(timers: Timers): Storage {
    const disk = this;
    let waiting: (() => void)[] = [];
    let syncing = false;
    const write = (next: Write) => disk.#unsynced.push(next);
    const flush = () => {
      const writes = disk.#unsynced;
      disk.#unsynced = [];
      for (const next of writes) apply(disk.#synced, next);
    };
    const syncAfterDelay = (then: () => void) => timers.after(disk.rng.int(disk.syncDelay.minUs, disk.syncDelay.maxUs) / 1000, then);
    return {
      truncateAfter: (offset) => write({ truncateAfter: offset }),
      appendEntries: (entries) => {
        if (entries.length > 0) write({ append: entries.slice() });
      },
      promiseEpoch: (epoch) => write({ epoch }),
      keepWriteQuorum: (writeQuorum, floor) => write({ writeQuorum, floor }),
      saveSnapshot: (snapshot: StoredSnapshot) => write({ snapshot: { offset: snapshot.offset, epoch: snapshot.epoch, pairs: snapshot.pairs.slice() } }),
      get compactionDue() {
        return disk.#synced.entries.length > compactionEntries;
      },
      unavailable: null,
      sync(done) {
        if (disk.acksBeforeSync) {
          done();
          syncAfterDelay(flush);
          return;
        }
        waiting.push(done);
        if (syncing) return;
        syncing = true;
        syncAfterDelay(() => {
          syncing = false;
          flush();
          const callbacks = waiting;
          waiting = [];
          for (const callback of callbacks) callback();
        });
      },
      status: (): StorageStatus => ({ dir: "sim", sync: "fsync", bytes: 0, lastSyncMs: null, unavailable: null }),
    };
  }
}

function apply(image: DiskImage, write: Write): void {
  const first = (image.snapshot?.offset ?? 0) + 1;
  if ("truncateAfter" in write) {
    image.entries.length = Math.max(0, Math.min(image.entries.length, write.truncateAfter - first + 1));
  } else if ("append" in write) {
    for (const entry of write.append) {
      if (entry.offset < first) continue;
      image.entries.length = Math.min(image.entries.length, entry.offset - first);
      if (image.entries.length === entry.offset - first) image.entries.push(entry);
    }
  } else if ("epoch" in write) {
    image.epoch = Math.max(image.epoch, write.epoch);
  } else if ("writeQuorum" in write) {
    image.writeQuorum = write.writeQuorum;
    image.writeQuorumFloor = write.floor;
  } else {
    const snapshot = write.snapshot!;
    image.entries = image.entries.filter((entry) => entry.offset > snapshot.offset);
    if (image.entries.length > 0 && image.entries[0]!.offset !== snapshot.offset + 1) image.entries = [];
    image.snapshot = snapshot;
  }
}
