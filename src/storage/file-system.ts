import {
  closeSync,
  constants,
  existsSync,
  fdatasync,
  fdatasyncSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  truncateSync,
  writeSync,
} from "node:fs";

/**
 * The file operations of DiskStorage and of its start-up check (load.ts), and nothing more:
 * `nodeFileSystem` in production; in the simulator a disk that loses what was not synced
 * when its machine crashes (src/sim/sim-files.ts), so that the simulator runs this code too.
 * Every write is at a position; a synced file is only sure to be found under its name once
 * its directory is synced too (POSIX: fdatasync does not cover the directory entry).
 */
export interface FileSystem {
  /** Creates the directory and its parents if missing. */
  mkdirs(dir: string): void;
  exists(path: string): boolean;
  /** A whole file's bytes. */
  read(path: string): Uint8Array;
  /** Opens a file for reads and writes, creating it empty if missing. */
  open(path: string): number;
  /** Creates a file, or empties it, for writing. */
  create(path: string): number;
  /** Writes `length` bytes of `bytes` from `offset` at `position` in the file; returns how many were written. */
  write(fd: number, bytes: Uint8Array, offset: number, length: number, position: number): number;
  /** Data of the file, and its size, durable before this returns; throws on an I/O error. */
  fdatasync(fd: number): void;
  /** fdatasync of the file by name, without waiting for it (nothing is acknowledged on it). */
  syncSoon(path: string): void;
  /** The directory's entries (creations, renames) durable before this returns. */
  syncDir(dir: string): void;
  ftruncate(fd: number, length: number): void;
  truncate(path: string, length: number): void;
  rename(from: string, to: string): void;
  close(fd: number): void;
}

export const nodeFileSystem: FileSystem = {
  mkdirs: (dir) => mkdirSync(dir, { recursive: true }),
  exists: existsSync,
  read: (path) => readFileSync(path),
  open: (path) => openSync(path, constants.O_RDWR | constants.O_CREAT, 0o644),
  create: (path) => openSync(path, "w"),
  write: (fd, bytes, offset, length, position) => writeSync(fd, bytes, offset, length, position),
  fdatasync: fdatasyncSync,
  syncSoon: (path) => {
    // On Bun's thread pool, on a descriptor of its own (an I/O error it meets is still reported to the next fdatasync of the file).
    const fd = openSync(path, "r");
    fdatasync(fd, () => closeSync(fd));
  },
  syncDir: (dir) => {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  },
  ftruncate: ftruncateSync,
  truncate: truncateSync,
  rename: renameSync,
  close: closeSync,
};
