import { dirname } from "node:path";
import type { FileSystem } from "./file-system.ts";

/**
 * Replaces a file whole: a temporary one written and (if `synced`) synced, renamed into place,
 * the directory synced, so that a crash leaves the old file or the new one. Returns its size.
 */
export function replaceFile(fs: FileSystem, path: string, records: Iterable<Buffer>, synced: boolean): number {
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
  if (synced) fs.syncDir(dirname(path));
  return size;
}

/**
 * Creates `dir` and whatever parents it lacks; with `synced`, each new directory's entry is made
 * durable by a sync of its parent, top down (POSIX: a sync of a directory covers its entries, not
 * the entry that names it).
 */
export function makeDir(fs: FileSystem, dir: string, synced: boolean): void {
  const missing: string[] = [];
  for (let at = dir; !fs.exists(at); at = dirname(at)) missing.push(at);
  fs.mkdirs(dir);
  if (synced) for (const at of missing.toReversed()) fs.syncDir(dirname(at));
}
