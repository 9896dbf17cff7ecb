/** Named bounds of the disk storage. */
export const diskStorageLimits = {
  /** The log is compacted once what was written since the latest snapshot outgrows it, and at least this. */
  compactionMinLogBytes: 8 * 1024 * 1024,
  /** Payload of one snapshot record: the snapshot is written (and checked) in pieces of about this. */
  snapshotRecordBytes: 1024 * 1024,
  /** After a failed write or sync (disk full, I/O error), storing is tried again this often. */
  retryMs: 200,
  /**
   * With SYNC=fsync, zeros written (and synced) ahead of the log's records, so that an fdatasync
   * after a write into them changes no file size (docs/storage.md, *Preallocation*); written
   * again once less than a quarter of them is left. At most this much of the log file is zeros.
   */
  logPreallocateBytes: 256 * 1024,
} as const;

/** Bounds of one DiskStorage (tests make them small). */
export type DiskStorageOptions = { [name in "compactionMinLogBytes" | "logPreallocateBytes"]?: number };
