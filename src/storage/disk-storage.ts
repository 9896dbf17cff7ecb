import { closeSync, fdatasync, fdatasyncSync, ftruncateSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Entry, SnapshotPair } from "../core/types.ts";
import type { Clock, Timers } from "../node/env.ts";
import type { Storage, StorageStatus, StoredData, StoredSnapshot, SyncMode } from "../node/storage.ts";
import { type LogRecord, loadDir, storageFiles } from "./load.ts";
import { encodeRecord } from "./records.ts";

/** Named bounds of the disk storage. */
export const diskStorageLimits = {
  /** The log is compacted once what was written since the latest snapshot outgrows it, and at least this. */
  compactionMinLogBytes: 8 * 1024 * 1024,
  /** Payload of one snapshot record: the snapshot is written (and checked) in pieces of about this. */
  snapshotRecordBytes: 1024 * 1024,
  /** After a failed write or sync (disk full, I/O error), storing is tried again this often. */
  retryMs: 200,
} as const;

/**
 * Log, epoch promise and snapshots in one directory (DATA_DIR), in checksummed records
 * (records.ts). Appends are buffered and written by one `write` per event-loop turn; with SYNC
 * fsync one fdatasync covers every write that arrived meanwhile (group commit), and the callbacks
 * of `sync` run once it is done. The epoch and snapshot files are replaced whole (temporary file,
 * synced, renamed); a snapshot also rewrites the log with only the entries after it.
 */
export class DiskStorage implements Storage {
  readonly #dir: string;
  readonly #mode: SyncMode;
  readonly #timers: Timers;
  readonly #clock: Clock;
  #logFd: number;
  /** Bytes of the log file known written; a failed write is cut back to here. */
  #logBytes: number;
  #snapshotBytes: number;
  /** Log bytes written since the latest snapshot: compaction is due once they outgrow it. */
  #bytesSinceSnapshot: number;
  #snapshotOffset: number;
  /** The stored entries after the snapshot, for rewriting the log at compaction (the same objects the core holds). */
  #entries: Entry[];
  #epoch: number;
  #writeQuorum: number | null;
  #writeQuorumFloor: number | null;
  /** The epoch file (the promise and the write quorum) must be written again. */
  #epochDirty = false;
  #buffer: Buffer[] = [];
  /** Callbacks waiting for the next sync to start, and those of the sync in flight. */
  #waiting: (() => void)[] = [];
  #flushScheduled = false;
  #syncing = false;
  #lastSyncMs: number | null = null;
  /** fdatasync calls of the log so far (one per group of writes). */
  syncCount = 0;
  #unavailable: string | null = null;
  #retryScheduled = false;
  /** Log bytes written since the start, and how many of them the last fdatasync covered. */
  #writtenBytes = 0;
  #syncedBytes = 0;
  /** A snapshot not yet stored (its write failed): stored before anything else. */
  #pendingSnapshot: StoredSnapshot | null = null;

  private constructor(
    dir: string,
    mode: SyncMode,
    env: { timers: Timers; clock: Clock },
    loaded: ReturnType<typeof loadDir>,
    readonly compactionMinLogBytes: number,
  ) {
    this.#dir = dir;
    this.#mode = mode;
    this.#timers = env.timers;
    this.#clock = env.clock;
    this.#logFd = openSync(join(dir, storageFiles.log), "a");
    this.#logBytes = loaded.logBytes;
    this.#snapshotBytes = loaded.snapshotBytes;
    this.#bytesSinceSnapshot = loaded.logBytes;
    this.#snapshotOffset = loaded.snapshot?.offset ?? 0;
    this.#entries = loaded.entries;
    this.#epoch = loaded.epoch;
    this.#writeQuorum = loaded.writeQuorum ?? null;
    this.#writeQuorumFloor = loaded.writeQuorumFloor ?? null;
  }

  /** Opens (creating it if need be) and checks a DATA_DIR; throws StorageCorrupt when it cannot be repaired here. */
  static open(
    dir: string,
    mode: SyncMode,
    env: { timers: Timers; clock: Clock; log: (line: string) => void },
    compactionMinLogBytes: number = diskStorageLimits.compactionMinLogBytes,
  ): { storage: DiskStorage; data: StoredData } {
    mkdirSync(dir, { recursive: true });
    const loaded = loadDir(dir, env.log);
    const storage = new DiskStorage(dir, mode, env, loaded, compactionMinLogBytes);
    return {
      storage,
      data: {
        epoch: loaded.epoch,
        snapshot: loaded.snapshot,
        entries: loaded.entries.slice(),
        writeQuorum: loaded.writeQuorum,
        writeQuorumFloor: loaded.writeQuorumFloor,
      },
    };
  }

  get compactionDue(): boolean {
    return this.#bytesSinceSnapshot > Math.max(this.#snapshotBytes, this.compactionMinLogBytes);
  }

  get unavailable(): string | null {
    return this.#unavailable;
  }

  truncateAfter(offset: number): void {
    if (offset >= this.#snapshotOffset + this.#entries.length) return;
    this.#entries.length = Math.max(0, offset - this.#snapshotOffset);
    this.#append({ truncateAfter: offset });
  }

  appendEntries(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    for (const entry of entries) {
      if (entry.offset <= this.#snapshotOffset) continue;
      this.#entries.length = entry.offset - this.#snapshotOffset - 1;
      this.#entries.push(entry);
    }
    this.#append({ append: entries });
  }

  promiseEpoch(epoch: number): void {
    if (epoch <= this.#epoch) return;
    this.#epoch = epoch;
    this.#epochDirty = true;
  }

  keepWriteQuorum(writeQuorum: number | null, floor: number | null): void {
    if (writeQuorum === this.#writeQuorum && floor === this.#writeQuorumFloor) return;
    this.#writeQuorum = writeQuorum;
    this.#writeQuorumFloor = floor;
    this.#epochDirty = true;
  }

  /**
   * Writes the snapshot (synced and renamed into place whatever SYNC says: it replaces log
   * records), then rewrites the log with the entries after it. Runs in the caller's turn; when
   * it fails (disk full) it is tried again before anything else is stored, and `sync` waits.
   */
  saveSnapshot(snapshot: StoredSnapshot): void {
    this.#pendingSnapshot = snapshot;
    try {
      this.#storeSnapshot();
    } catch (error) {
      this.#failed(error);
    }
  }

  #storeSnapshot(): void {
    const snapshot = this.#pendingSnapshot;
    if (!snapshot) return;
    this.#flushBuffer();
    this.#snapshotBytes = this.#replaceFile(join(this.#dir, storageFiles.snapshot), snapshotRecords(snapshot));
    this.#pendingSnapshot = null;
    this.#bytesSinceSnapshot = 0;
    this.#entries = this.#entries.filter((entry) => entry.offset > snapshot.offset);
    this.#snapshotOffset = snapshot.offset;
    // The old log stays valid with the new snapshot (records up to it are skipped at start), so a
    // failure from here on only leaves compaction to be done again.
    const logPath = join(this.#dir, storageFiles.log);
    const logBytes = this.#replaceFile(logPath, this.#entries.length > 0 ? [encodeRecord({ append: this.#entries } satisfies LogRecord)] : []);
    closeSync(this.#logFd);
    this.#logFd = openSync(logPath, "a");
    this.#logBytes = logBytes;
  }

  sync(done: () => void): void {
    // Nothing handed over since the last sync (a heartbeat's answer): no write, no fdatasync.
    const idle = this.#buffer.length === 0 && !this.#epochDirty && this.#pendingSnapshot === null && !this.#syncing && this.#waiting.length === 0;
    if (this.#mode === "none" || (idle && this.#writtenBytes === this.#syncedBytes && this.#unavailable === null)) {
      done();
      if (!idle) this.#scheduleFlush();
      return;
    }
    this.#waiting.push(done);
    this.#scheduleFlush();
  }

  status(): StorageStatus {
    return { dir: this.#dir, sync: this.#mode, bytes: this.#logBytes + this.#snapshotBytes, lastSyncMs: this.#lastSyncMs, unavailable: this.#unavailable };
  }

  /** A clean stop: what is buffered is written (SYNC=none buffers past `sync`). */
  close(): void {
    try {
      this.#writeOut();
    } catch {
      // Nothing acknowledged is lost: SYNC fsync and write acknowledge only what was written.
    }
    closeSync(this.#logFd);
  }

  #append(record: LogRecord): void {
    this.#buffer.push(encodeRecord(record));
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    this.#timers.soon(() => this.#flush());
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#syncing) return; // the sync in flight schedules the next one
    try {
      this.#writeOut();
    } catch (error) {
      this.#failed(error);
      return;
    }
    const callbacks = this.#waiting;
    this.#waiting = [];
    if (this.#mode !== "fsync" || this.#writtenBytes === this.#syncedBytes) {
      this.#syncedBytes = this.#writtenBytes;
      this.#unavailable = null;
      for (const done of callbacks) done();
      return;
    }
    this.#syncing = true;
    this.syncCount++;
    const startedMs = this.#clock.nowMs();
    const covered = this.#writtenBytes;
    fdatasync(this.#logFd, (error) => {
      this.#syncing = false;
      if (error) {
        this.#waiting = callbacks.concat(this.#waiting);
        this.#failed(error);
        return;
      }
      this.#lastSyncMs = this.#clock.nowMs() - startedMs;
      this.#syncedBytes = covered;
      this.#unavailable = null;
      for (const done of callbacks) done();
      if (this.#waiting.length > 0 || this.#buffer.length > 0) this.#scheduleFlush();
    });
  }

  /** Writes everything handed over (to the OS; the caller syncs the log). */
  #writeOut(): void {
    this.#storeSnapshot();
    this.#flushBuffer();
    if (this.#epochDirty) {
      this.#replaceFile(join(this.#dir, storageFiles.epoch), [
        encodeRecord({ epoch: this.#epoch, writeQuorum: this.#writeQuorum, writeQuorumFloor: this.#writeQuorumFloor }),
      ]);
      this.#epochDirty = false;
    }
  }

  /** Storing failed: writes are refused (see `unavailable`) and storing is tried again until it works. */
  #failed(error: unknown): void {
    this.#unavailable = error instanceof Error ? error.message : String(error);
    if (this.#retryScheduled) return;
    this.#retryScheduled = true;
    this.#timers.after(diskStorageLimits.retryMs, () => {
      this.#retryScheduled = false;
      this.#scheduleFlush();
    });
  }

  /** Writes the buffered records; a write cut short (disk full) is cut back off the file, and the records stay buffered. */
  #flushBuffer(): void {
    if (this.#buffer.length === 0) return;
    const bytes = this.#buffer.length === 1 ? this.#buffer[0]! : Buffer.concat(this.#buffer);
    try {
      let written = 0;
      while (written < bytes.length) written += writeSync(this.#logFd, bytes, written);
    } catch (error) {
      ftruncateSync(this.#logFd, this.#logBytes);
      throw error;
    }
    this.#buffer = [];
    this.#writtenBytes += bytes.length;
    this.#logBytes += bytes.length;
    this.#bytesSinceSnapshot += bytes.length;
  }

  /** Replaces a file whole: a temporary one written and synced, renamed into place, the directory synced. Returns its size. */
  #replaceFile(path: string, records: Iterable<Buffer>): number {
    const temporary = `${path}.tmp`;
    const fd = openSync(temporary, "w");
    let size = 0;
    try {
      for (const record of records) {
        let written = 0;
        while (written < record.length) written += writeSync(fd, record, written);
        size += record.length;
      }
      if (this.#mode !== "none") fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
    if (this.#mode !== "none") syncDir(this.#dir);
    return size;
  }
}

/** The snapshot file's records: its position, the pairs in pieces, and an end record with the count. */
function* snapshotRecords(snapshot: StoredSnapshot): Generator<Buffer> {
  yield encodeRecord({ offset: snapshot.offset, epoch: snapshot.epoch });
  let pairs: SnapshotPair[] = [];
  let chars = 0;
  let count = 0;
  for (const pair of snapshot.pairs) {
    pairs.push(pair);
    count++;
    chars += pair[0].length + pair[1].length + 16;
    if (chars >= diskStorageLimits.snapshotRecordBytes) {
      yield encodeRecord({ pairs });
      pairs = [];
      chars = 0;
    }
  }
  if (pairs.length > 0) yield encodeRecord({ pairs });
  yield encodeRecord({ end: count });
}

function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
