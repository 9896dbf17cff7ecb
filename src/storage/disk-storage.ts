import { join } from "node:path";
import type { Entry } from "../core/types.ts";
import type { Clock, TimerHandle, Timers } from "../node/env.ts";
import type { Storage, StorageStatus, StoredData, StoredSnapshot, SyncMode } from "../node/storage.ts";
import { type LogRecord, loadDir, storageFiles } from "./load.ts";
import { type DiskStorageOptions, diskStorageLimits } from "./disk-limits.ts";
import { type FileSystem, nodeFileSystem } from "./file-system.ts";
import { replaceFile, syncFound } from "./files.ts";
import { encodeRecord } from "./records.ts";
import { snapshotRecords } from "./snapshot-file.ts";

const zeros = Buffer.alloc(64 * 1024);

export interface DiskStorageEnv {
  timers: Timers;
  clock: Clock;
  /** Told the duration of each fdatasync of the log (one per group of writes), for the metrics' histogram. */
  observeSync?: (seconds: number) => void;
  /** node:fs unless given: tests inject an fdatasync that fails as Linux's does (docs/storage.md, *Disk full, I/O errors*), the simulator a disk that loses what was not synced. */
  fs?: FileSystem;
}

/**
 * Log, epoch promise and snapshots in one directory (DATA_DIR), in checksummed records
 * (records.ts). Appends are buffered and written by one `write` per event-loop turn; with SYNC
 * fsync one fdatasync, in the event loop (as Redis's `appendfsync always`), covers every write
 * that arrived meanwhile (group commit), and the callbacks of `sync` run once it returns. The
 * epoch and snapshot files are replaced whole (temporary file, synced, renamed); a snapshot also
 * rewrites the log with only the entries after it.
 */
export class DiskStorage implements Storage {
  readonly #dir: string;
  readonly #mode: SyncMode;
  readonly #tuning: Required<DiskStorageOptions>;
  readonly #timers: Timers;
  readonly #clock: Clock;
  readonly #observeSync: (seconds: number) => void;
  readonly #fs: FileSystem;
  #logFd: number;
  /** Bytes of the log's records, where the next one is written; a failed write is cut back to here. */
  #logBytes: number;
  /** The log file's size: beyond #logBytes it holds zeros (preallocated). */
  #fileBytes: number;
  /** A failed preallocation (disk full) is not tried again before this. */
  #preallocateAfterMs = 0;
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
  /** Callbacks of `sync` waiting for the next flush (at the end of the turn, or after a failure). */
  #waiting: (() => void)[] = [];
  #flushScheduled = false;
  #lastSyncMs: number | null = null;
  /** fdatasync calls of the log so far (one per group of writes). */
  syncCount = 0;
  #unavailable: string | null = null;
  /** After a failure: the retry's timer. Until it fires, `sync` only queues (see `sync`). */
  #retryTimer: TimerHandle | null = null;
  /** The callbacks of one sync are running: a `sync(…, true)` they make waits for the end of the turn, after them. */
  #callingBack = false;
  #closed = false;
  /**
   * SYNC=fsync: the log's bytes written since its last good fdatasync (empty: all synced), written
   * again after a failed one before the next (see #syncLog); a compaction's synced files hold them.
   */
  #unsynced: Buffer[] = [];
  /** An fdatasync failed: #unsynced must be written again before a sync can be trusted. */
  #rewriteUnsynced = false;
  /** The log was replaced (compaction) and its directory not yet synced: the next sync does that first. */
  #dirUnsynced = false;
  /** SYNC=fsync: what this start found may be an earlier process's page cache (syncFound, first sync). */
  #foundUnsynced: boolean;
  /** A snapshot not yet stored (its write failed): stored before anything else. */
  #pendingSnapshot: StoredSnapshot | null = null;

  private constructor(dir: string, mode: SyncMode, env: DiskStorageEnv, loaded: ReturnType<typeof loadDir>, tuning: Required<DiskStorageOptions>) {
    this.#dir = dir;
    this.#mode = mode;
    this.#tuning = tuning;
    this.#timers = env.timers;
    this.#clock = env.clock;
    this.#observeSync = env.observeSync ?? (() => {});
    this.#fs = env.fs ?? nodeFileSystem;
    this.#foundUnsynced = mode === "fsync";
    this.#logFd = this.#fs.open(join(dir, storageFiles.log));
    this.#logBytes = loaded.logBytes;
    this.#fileBytes = loaded.logFileBytes;
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
    env: DiskStorageEnv & { log: (line: string) => void },
    options: DiskStorageOptions = {},
  ): { storage: DiskStorage; data: StoredData } {
    const fs = env.fs ?? nodeFileSystem;
    // A new DATA_DIR's and a new log's names are made durable by the first sync (syncFound), as all it finds.
    fs.mkdirs(dir);
    const loaded = loadDir(fs, dir, env.log);
    const { compactionMinLogBytes = diskStorageLimits.compactionMinLogBytes, logPreallocateBytes = diskStorageLimits.logPreallocateBytes } = options;
    const storage = new DiskStorage(dir, mode, env, loaded, { compactionMinLogBytes, logPreallocateBytes });
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
    return this.#bytesSinceSnapshot > Math.max(this.#snapshotBytes, this.#tuning.compactionMinLogBytes);
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
    const records = snapshotRecords(snapshot, diskStorageLimits.snapshotRecordBytes);
    this.#snapshotBytes = replaceFile(this.#fs, join(this.#dir, storageFiles.snapshot), records, this.#mode !== "none");
    this.#pendingSnapshot = null;
    this.#bytesSinceSnapshot = 0;
    this.#entries = this.#entries.filter((entry) => entry.offset > snapshot.offset);
    this.#snapshotOffset = snapshot.offset;
    // The old log stays valid with the new snapshot (records up to it are skipped at start), so a
    // failure from here on only leaves compaction to be done again.
    const logPath = join(this.#dir, storageFiles.log);
    const logRecords = this.#entries.length > 0 ? [encodeRecord({ append: this.#entries } satisfies LogRecord)] : [];
    const logBytes = replaceFile(this.#fs, logPath, logRecords, this.#mode !== "none", false);
    // Renamed: the descriptor follows the name at once, whatever fails next, or appends would go
    // to a file with none. Everything written so far is in the synced snapshot or the new log,
    // which a power cut finds under its name once the directory is synced: owed till then.
    const oldFd = this.#logFd;
    this.#logFd = this.#fs.open(logPath);
    this.#logBytes = logBytes;
    this.#fileBytes = logBytes;
    this.#unsynced = [];
    this.#rewriteUnsynced = false;
    this.#dirUnsynced = this.#mode !== "none";
    this.#fs.close(oldFd);
    this.#syncOwed();
  }

  /** Syncs owed before anything is acknowledged: what this start found, a replaced log's directory. */
  #syncOwed(): void {
    if (this.#foundUnsynced) {
      const startedMs = this.#clock.nowMs();
      syncFound(this.#fs, this.#dir, Object.values(storageFiles));
      this.#foundUnsynced = false;
      this.#observeSync((this.#clock.nowMs() - startedMs) / 1000);
    }
    if (this.#dirUnsynced) {
      this.#fs.syncDir(this.#dir);
      this.#dirUnsynced = false;
    }
  }

  /**
   * With `startNow`, the caller's writes are written and synced before this returns (the leader's
   * pump has batched already); without it, at the end of the turn. Two exceptions keep order and
   * bound the work: a sync asked for by a callback of another waits for the end of the turn, so
   * that the other callbacks of its group run first; and after a failure, nothing is written or
   * synced before the retry (`retryMs` later), however many messages arrive meanwhile.
   */
  sync(done: () => void, startNow = false): void {
    // Nothing handed over since the last sync (a heartbeat's answer): no write, no fdatasync.
    const idle = this.#buffer.length === 0 && !this.#epochDirty && this.#pendingSnapshot === null && this.#waiting.length === 0 && !this.#foundUnsynced;
    if (this.#mode === "none" || (idle && this.#unsynced.length === 0 && this.#unavailable === null)) {
      done();
      if (!idle) this.#scheduleFlush();
      return;
    }
    this.#waiting.push(done);
    if (startNow && !this.#callingBack) this.#flush();
    else this.#scheduleFlush();
  }

  status(): StorageStatus {
    return { dir: this.#dir, sync: this.#mode, bytes: this.#fileBytes + this.#snapshotBytes, lastSyncMs: this.#lastSyncMs, unavailable: this.#unavailable };
  }

  /** A clean stop: what is buffered is written (SYNC=none buffers past `sync`). */
  close(): void {
    // Nothing runs on this descriptor afterwards: a retry's rewrite would land in whatever file reuses its number.
    this.#closed = true;
    if (this.#retryTimer !== null) this.#timers.cancel(this.#retryTimer);
    this.#retryTimer = null;
    try {
      this.#writeOut();
    } catch {
      // Nothing acknowledged is lost: SYNC fsync and write acknowledge only what was written.
    }
    this.#fs.close(this.#logFd);
  }

  #append(record: LogRecord): void {
    this.#buffer.push(encodeRecord(record));
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#retryTimer !== null || this.#closed) return;
    this.#flushScheduled = true;
    this.#timers.soon(() => this.#flush());
  }

  #flush(): void {
    this.#flushScheduled = false;
    // After a failure nothing is written or synced before the retry, a flush due since before it included.
    if (this.#closed || this.#retryTimer !== null) return;
    this.#writeAndSync();
    this.#preallocate();
  }

  /**
   * Writes out what was handed over, then (SYNC=fsync) one fdatasync of the log covers all of it,
   * and every waiting callback runs, in order. The fdatasync blocks the event loop, as Redis's
   * `appendfsync always` does: handing it to Bun's thread pool and back cost the process about
   * 40 µs more CPU per sync, and a wake-up, than the sync itself (docs/storage.md, *Group commit*).
   */
  #writeAndSync(): void {
    try {
      // Before anything is written: a failed fdatasync may drop what is pending, and only the
      // log's own sync (#syncLog) knows to write its bytes again.
      this.#syncOwed();
      this.#writeOut();
      if (this.#unsynced.length > 0) this.#syncLog();
    } catch (error) {
      this.#failed(error);
      return;
    }
    this.#unavailable = null;
    const callbacks = this.#waiting;
    this.#waiting = [];
    this.#callingBack = true;
    try {
      for (const done of callbacks) done();
    } finally {
      this.#callingBack = false;
    }
  }

  /**
   * One fdatasync of the log. Linux reports a failed writeback once and may mark the pages it
   * could not write clean, so a second fdatasync can succeed without them on disk (PostgreSQL's
   * "fsyncgate"): after a failure, every byte written since the last good sync is written again
   * from our own copy first, so that the next sync that returns covers it for real.
   */
  #syncLog(): void {
    if (this.#rewriteUnsynced) {
      const bytes = Buffer.concat(this.#unsynced);
      const at = this.#logBytes - bytes.length;
      let written = 0;
      while (written < bytes.length) written += this.#fs.write(this.#logFd, bytes, written, bytes.length - written, at + written);
      this.#rewriteUnsynced = false;
    }
    const startedMs = this.#clock.nowMs();
    this.syncCount++;
    try {
      this.#fs.fdatasync(this.#logFd);
    } catch (error) {
      this.#rewriteUnsynced = true;
      throw error;
    }
    this.#unsynced = [];
    this.#lastSyncMs = this.#clock.nowMs() - startedMs;
    this.#observeSync(this.#lastSyncMs / 1000);
  }

  /**
   * With SYNC=fsync, once less than a quarter of the zeros ahead of the records is left, writes
   * more and syncs them (on Bun's thread pool: it is rare, and the records' sync is done already).
   * Only speed depends on it: a record past them or not yet on synced ones is synced as an append.
   */
  #preallocate(): void {
    const ahead = this.#fileBytes - this.#logBytes;
    if (this.#mode !== "fsync" || ahead * 4 >= this.#tuning.logPreallocateBytes || this.#clock.nowMs() < this.#preallocateAfterMs) return;
    const target = this.#logBytes + this.#tuning.logPreallocateBytes;
    try {
      while (this.#fileBytes < target)
        this.#fileBytes += this.#fs.write(this.#logFd, zeros, 0, Math.min(zeros.length, target - this.#fileBytes), this.#fileBytes);
      this.#fs.syncSoon(join(this.#dir, storageFiles.log));
    } catch {
      // Disk full: what was written is zeros all the same; ordinary appends go on while they fit.
      this.#preallocateAfterMs = this.#clock.nowMs() + diskStorageLimits.retryMs;
    }
  }

  /** Writes everything handed over (to the OS; the caller syncs the log). */
  #writeOut(): void {
    this.#storeSnapshot();
    this.#flushBuffer();
    if (this.#epochDirty) {
      const promise = { epoch: this.#epoch, writeQuorum: this.#writeQuorum, writeQuorumFloor: this.#writeQuorumFloor };
      replaceFile(this.#fs, join(this.#dir, storageFiles.epoch), [encodeRecord(promise)], this.#mode !== "none");
      this.#epochDirty = false;
    }
  }

  /** Storing failed: writes are refused (see `unavailable`) and storing is tried again until it works. */
  #failed(error: unknown): void {
    this.#unavailable = error instanceof Error ? error.message : String(error);
    if (this.#retryTimer !== null || this.#closed) return;
    this.#retryTimer = this.#timers.after(diskStorageLimits.retryMs, () => {
      this.#retryTimer = null;
      this.#scheduleFlush();
    });
  }

  /** Writes the buffered records; a write cut short (disk full) is cut back off the file, and the records stay buffered. */
  #flushBuffer(): void {
    if (this.#buffer.length === 0) return;
    const bytes = this.#buffer.length === 1 ? this.#buffer[0]! : Buffer.concat(this.#buffer);
    try {
      let written = 0;
      while (written < bytes.length) written += this.#fs.write(this.#logFd, bytes, written, bytes.length - written, this.#logBytes + written);
    } catch (error) {
      // The zeros after it go too: the next records are appended until preallocated again.
      this.#fs.ftruncate(this.#logFd, this.#logBytes);
      this.#fileBytes = this.#logBytes;
      throw error;
    }
    this.#buffer = [];
    if (this.#mode === "fsync") this.#unsynced.push(bytes);
    this.#logBytes += bytes.length;
    this.#fileBytes = Math.max(this.#fileBytes, this.#logBytes);
    this.#bytesSinceSnapshot += bytes.length;
  }
}
