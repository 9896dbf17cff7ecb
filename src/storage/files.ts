import { closeSync, fdatasyncSync, fsyncSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Replaces a file whole: a temporary one written and (if `synced`) synced, renamed into place,
 * the directory synced, so that a crash leaves the old file or the new one. Returns its size.
 */
export function replaceFile(path: string, records: Iterable<Buffer>, synced: boolean): number {
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, "w");
  let size = 0;
  try {
    for (const record of records) {
      let written = 0;
      while (written < record.length) written += writeSync(fd, record, written);
      size += record.length;
    }
    if (synced) fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  if (synced) syncDir(dirname(path));
  return size;
}

function syncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
