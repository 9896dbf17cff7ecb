import { closeSync, constants, fdatasync, ftruncateSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Entry } from "../core/types.ts";
import type { Clock, Timers } from "../node/env.ts";
import type { Storage, StorageStatus, StoredData, StoredSnapshot, SyncMode } from "../node/storage.ts";
import { type LogRecord, loadDir, storageFiles } from "./load.ts";
import { type DiskStorageOptions, diskStorageLimits } from "./disk-limits.ts";
import { replaceFile } from "./files.ts";
import { encodeRecord } from "./records.ts";
import { snapshotRecords } from "./snapshot-file.ts";

const zeros = Buffer.alloc(64 * 1024);

interface SyncInFlight {
  /** Log bytes written when it started: all of them are stored once it returns. */
  covered: number;
  callbacks: (() => void)[];
}

export interface DiskStorageEnv {
  timers: Timers;
  clock: Clock;
  /** Told the duration of each fdatasync of the log (one per group of writes), for the metrics' histogram. */
  observeSync?: (seconds: number) => void;
}

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
  readonly #tuning: Required<DiskStorageOptions>;
  readonly #timers: Timers;
  readonly #clock: Clock;
  readonly #observeSync: (seconds: number) => void;
  #logFd: number;
  /** Times the log file was replaced (compaction): a sync in flight on an older one needs no retry. */
  #logGeneration = 0;
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
  /** Callbacks of `sync` waiting for the next flush (their writes not yet written out, or no sync free). */
  #waiting: (() => void)[] = [];
  /** The fdatasyncs in flight, oldest first, each with the callbacks it answers. */
  #inFlight: SyncInFlight[] = [];
  #flushScheduled = false;
  #lastSyncMs: number | null = null;
  /** fdatasync calls of the log so far (one per group of writes). */
  syncCount = 0;
  #unavailable: string | null = null;
  #retryScheduled = false;
  /** Log bytes written since the start, and how many of them are known synced (by an fdatasync, or a compaction's synced files). */
  #writtenBytes = 0;
  #syncedBytes = 0;
  /** A snapshot not yet stored (its write failed): stored before anything else. */
  #pendingSnapshot: StoredSnapshot | null = null;

  private constructor(dir: string, mode: SyncMode, env: DiskStorageEnv, loaded: ReturnType<typeof loadDir>, tuning: Required<DiskStorageOptions>) {
    this.#dir = dir;
    this.#mode = mode;
    this.#tuning = tuning;
    this.#timers = env.timers;
    this.#clock = env.clock;
    this.#observeSync = env.observeSync ?? (() => {});
    this.#logFd = openLog(join(dir, storageFiles.log));
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
    mkdirSync(dir, { recursive: true });
    const loaded = loadDir(dir, env.log);
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
    this.#snapshotBytes = replaceFile(
      join(this.#dir, storageFiles.snapshot),
      snapshotRecords(snapshot, diskStorageLimits.snapshotRecordBytes),
      this.#mode !== "none",
    );
    this.#pendingSnapshot = null;
    this.#bytesSinceSnapshot = 0;
    this.#entries = this.#entries.filter((entry) => entry.offset > snapshot.offset);
    this.#snapshotOffset = snapshot.offset;
    // The old log stays valid with the new snapshot (records up to it are skipped at start), so a
    // failure from here on only leaves compaction to be done again.
    const logPath = join(this.#dir, storageFiles.log);
    const logBytes = replaceFile(logPath, this.#entries.length > 0 ? [encodeRecord({ append: this.#entries } satisfies LogRecord)] : [], this.#mode !== "none");
    closeSync(this.#logFd);
    this.#logFd = openLog(logPath);
    this.#logGeneration++;
    this.#logBytes = logBytes;
    this.#fileBytes = logBytes;
    // Everything written so far is in the synced snapshot or the synced new log.
    if (this.#mode === "fsync") this.#syncedBytes = this.#writtenBytes;
  }

  sync(done: () => void, startNow = false): void {
    // Nothing handed over since the last sync (a heartbeat's answer): no write, no fdatasync.
    const idle = this.#buffer.length === 0 && !this.#epochDirty && this.#pendingSnapshot === null && this.#inFlight.length === 0 && this.#waiting.length === 0;
    if (this.#mode === "none" || (idle && this.#writtenBytes === this.#syncedBytes && this.#unavailable === null)) {
      done();
      if (!idle) this.#scheduleFlush();
      return;
    }
    this.#waiting.push(done);
    if (startNow) this.#flush();
    else this.#scheduleFlush();
  }

  status(): StorageStatus {
    return { dir: this.#dir, sync: this.#mode, bytes: this.#fileBytes + this.#snapshotBytes, lastSyncMs: this.#lastSyncMs, unavailable: this.#unavailable };
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
    this.#writeAndSync();
    this.#preallocate();
  }

  #writeAndSync(): void {
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
    // Nothing written since the latest sync in flight started (a heartbeat's answer): that one covers it.
    const latest = this.#inFlight.at(-1);
    if (latest && latest.covered >= this.#writtenBytes) {
      latest.callbacks.push(...callbacks);
      return;
    }
    if (this.#inFlight.length >= diskStorageLimits.syncsInFlightMax) {
      this.#waiting = callbacks.concat(this.#waiting); // the next sync to finish flushes again
      return;
    }
    this.#startSync(callbacks);
  }

  /**
   * One fdatasync of the log, covering every byte written so far. It starts even while another
   * is in flight (up to syncsInFlightMax): what was written since waits for one sync, not for the
   * rest of the one in flight and then its own, and no loop turn passes between the two.
   */
  #startSync(callbacks: (() => void)[]): void {
    const sync: SyncInFlight = { covered: this.#writtenBytes, callbacks };
    this.#inFlight.push(sync);
    this.syncCount++;
    const startedMs = this.#clock.nowMs();
    const generation = this.#logGeneration;
    const finished = (error: Error | null) => {
      this.#inFlight.splice(this.#inFlight.indexOf(sync), 1);
      // A log replaced meanwhile (compaction) was synced whole with what replaced it: nothing is lost.
      if (error && generation === this.#logGeneration) {
        this.#waiting = sync.callbacks.concat(this.#waiting);
        this.#failed(error);
        return;
      }
      if (!error) {
        this.#lastSyncMs = this.#clock.nowMs() - startedMs;
        this.#observeSync(this.#lastSyncMs / 1000);
      }
      this.#syncedBytes = Math.max(this.#syncedBytes, sync.covered);
      this.#unavailable = null;
      // The syncs started earlier cover no more than this one: their callbacks run now too, first.
      const released: (() => void)[] = [];
      for (const other of this.#inFlight) {
        if (other.covered > this.#syncedBytes) continue;
        released.push(...other.callbacks);
        other.callbacks = [];
      }
      for (const done of released) done();
      for (const done of sync.callbacks) done();
      if (this.#waiting.length > 0 || this.#buffer.length > 0) this.#scheduleFlush();
    };
    fdatasync(this.#logFd, finished);
  }

  /**
   * With SYNC=fsync, once less than a quarter of the zeros ahead of the records is left, writes
   * more and syncs them, after the records' sync has started (which then does not carry them).
   * Only speed depends on it: a record past them or not yet on synced ones is synced as an append.
   */
  #preallocate(): void {
    const ahead = this.#fileBytes - this.#logBytes;
    if (this.#mode !== "fsync" || ahead * 4 >= this.#tuning.logPreallocateBytes || this.#clock.nowMs() < this.#preallocateAfterMs) return;
    const target = this.#logBytes + this.#tuning.logPreallocateBytes;
    try {
      while (this.#fileBytes < target) this.#fileBytes += writeSync(this.#logFd, zeros, 0, Math.min(zeros.length, target - this.#fileBytes), this.#fileBytes);
      // On a descriptor of its own: an I/O error it sees is still reported to the records' next sync.
      const fd = openSync(join(this.#dir, storageFiles.log), "r");
      fdatasync(fd, () => closeSync(fd));
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
      replaceFile(
        join(this.#dir, storageFiles.epoch),
        [encodeRecord({ epoch: this.#epoch, writeQuorum: this.#writeQuorum, writeQuorumFloor: this.#writeQuorumFloor })],
        this.#mode !== "none",
      );
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
      while (written < bytes.length) written += writeSync(this.#logFd, bytes, written, bytes.length - written, this.#logBytes + written);
    } catch (error) {
      // The zeros after it go too: the next records are appended until preallocated again.
      ftruncateSync(this.#logFd, this.#logBytes);
      this.#fileBytes = this.#logBytes;
      throw error;
    }
    this.#buffer = [];
    this.#writtenBytes += bytes.length;
    this.#logBytes += bytes.length;
    this.#fileBytes = Math.max(this.#fileBytes, this.#logBytes);
    this.#bytesSinceSnapshot += bytes.length;
  }
}

/** The log, opened for writes at a position (records overwrite its zero tail), created if missing. */
function openLog(path: string): number {
  return openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644);
}
