import { dirname, join } from "node:path";
import type { FileSystem } from "./file-system.ts";

/**
 * Replaces a file whole: a temporary one written and (if `synced`) synced, renamed into place,
 * the directory synced (unless the caller does it: `syncDirectory` false), so that a crash leaves
 * the old file or the new one. Returns its size.
 */
export function replaceFile(fs: FileSystem, path: string, records: Iterable<Buffer>, synced: boolean, syncDirectory = synced): number {
  const temporary = `${path}.tmp`;
  const fd = fs.create(temporary);
  let size = 0;
  try {
    for (const record of records) {
      let written = 0;
      while (written < record.length) written += fs.write(fd, record, written, record.length - written, size + written);
      size += record.length;
    }
    if (synced) fs.fdatasync(fd);
  } finally {
    fs.close(fd);
  }
  fs.rename(temporary, path);
  if (syncDirectory) fs.syncDir(dirname(path));
  return size;
}

/**
 * Makes durable what a start finds in `dir`: the files named `names` that exist, the directory's
 * entries, and those of its parents up to the root (so a DATA_DIR or log just created too: POSIX
 * makes a new name durable by a sync of its directory, not by the file's own fdatasync). A process that died (kill -9, out of memory)
 * leaves its unsynced writes and renames in the page cache, where the next start reads them as if
 * stored; a power cut after that start would still lose them, answered or not. So they are synced
 * before the node answers anything, as PostgreSQL does after a crash. (A write whose fdatasync
 * failed before the death may be gone from the disk already while the cache still shows it: no
 * sync can bring that back.)
 */
export function syncFound(fs: FileSystem, dir: string, names: readonly string[]): void {
  for (const name of names) {
    const path = join(dir, name);
    if (!fs.exists(path)) continue;
    const fd = fs.open(path);
    try {
      fs.fdatasync(fd);
    } finally {
      fs.close(fd);
    }
  }
  for (let at = dir; ; at = dirname(at)) {
    fs.syncDir(at);
    if (dirname(at) === at) return;
  }
}
