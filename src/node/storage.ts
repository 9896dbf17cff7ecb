import type { Entry, SnapshotPair } from "../core/types.ts";

/** SYNC: when a stored write counts as stored (see docs/storage.md). */
export type SyncMode = "fsync" | "write" | "none";

/** The state at `offset` (the entry there of `epoch`), for compaction and for a snapshot installed from the leader. */
export interface StoredSnapshot {
  offset: number;
  epoch: number;
  pairs: readonly SnapshotPair[];
}

/** What a node finds stored when it starts: its promise, its latest snapshot and the log after it (checked). */
export interface StoredData {
  epoch: number;
  snapshot: { offset: number; epoch: number; pairs: SnapshotPair[] } | null;
  entries: Entry[];
  /** The write quorum in force at the leader it last heard (W is replicated state); absent or null: never heard. */
  writeQuorum?: number | null;
  /** The write quorum floor it last heard (ReplicateMessage.writeQuorumFloor); absent or null: never heard. */
  writeQuorumFloor?: number | null;
}

export interface StorageStatus {
  dir: string | null;
  sync: SyncMode | "memory";
  bytes: number;
  /** Duration of the last sync to disk, or null before the first. */
  lastSyncMs: number | null;
  unavailable: string | null;
}

/**
 * Where a node keeps its log, its epoch promise and snapshots of its state (DESIGN §8). The node
 * hands over what the core's Ready says and answers only once `sync` calls back, so acknowledgements
 * and fence answers are durable (per SYNC) without the node knowing which storage it runs on.
 */
export interface Storage {
  /** Drops stored entries beyond `offset` (a conflicting tail, or a snapshot replaced them). */
  truncateAfter(offset: number): void;
  appendEntries(entries: readonly Entry[]): void;
  /** This node never answers a leader older than `epoch` again. */
  promiseEpoch(epoch: number): void;
  /** The write quorum in force at the leader (or this node's own, while it leads), kept beside the epoch promise: a restarted node still reports it to a candidate. */
  keepWriteQuorum(writeQuorum: number | null, floor: number | null): void;
  /** The state at `snapshot.offset` replaces every stored entry up to there. */
  saveSnapshot(snapshot: StoredSnapshot): void;
  /** Whether the log kept since the last snapshot has grown enough that the node should save one. */
  readonly compactionDue: boolean;
  /**
   * Calls `done` once everything handed over so far is stored. Storing starts at the end of the
   * current event, so that whatever else arrives in it shares the sync; with `startNow` at once
   * (the caller has batched already, as the leader's pump has).
   */
  sync(done: () => void, startNow?: boolean): void;
  /** Why nothing can be stored now (disk full, I/O error), or null; writes are refused meanwhile. */
  readonly unavailable: string | null;
  status(): StorageStatus;
}

/**
 * No disk (DATA_DIR unset): the core's own log is the only copy, lost with the process. It keeps
 * the position of what it was handed, so tests can check that the node stores before it answers.
 */
export class MemoryStorage implements Storage {
  lastOffset = 0;
  epoch = 0;
  writeQuorum: number | null = null;
  writeQuorumFloor: number | null = null;
  syncs = 0;
  snapshotOffset = 0;
  readonly compactionDue = false;
  readonly unavailable = null;

  truncateAfter(offset: number): void {
    this.lastOffset = Math.min(this.lastOffset, offset);
  }

  appendEntries(entries: readonly Entry[]): void {
    const last = entries.at(-1);
    if (last) this.lastOffset = last.offset;
  }

  promiseEpoch(epoch: number): void {
    this.epoch = Math.max(this.epoch, epoch);
  }

  keepWriteQuorum(writeQuorum: number | null, floor: number | null): void {
    this.writeQuorum = writeQuorum;
    this.writeQuorumFloor = floor;
  }

  saveSnapshot(snapshot: StoredSnapshot): void {
    this.snapshotOffset = snapshot.offset;
    this.lastOffset = Math.max(this.lastOffset, snapshot.offset);
  }

  sync(done: () => void): void {
    this.syncs++;
    done();
  }

  status(): StorageStatus {
    return { dir: null, sync: "memory", bytes: 0, lastSyncMs: null, unavailable: null };
  }
}
