import { join } from "node:path";
import type { Entry } from "../core/types.ts";
import type { StoredData } from "../node/storage.ts";
import type { FileSystem } from "./file-system.ts";
import { decodeRecords } from "./records.ts";
import { decodeSnapshot } from "./snapshot-file.ts";

/** The files of one node's DATA_DIR. */
export const storageFiles = { log: "log", snapshot: "snapshot", epoch: "epoch" } as const;

/** Stored data that cannot be repaired (a corrupt epoch file): the node refuses to start. */
export class StorageCorrupt extends Error {
  override name = "StorageCorrupt";
}

/** One log record: entries appended, a truncation, or (first in a rewritten log) nothing else. */
export type LogRecord = { append: readonly Entry[] } | { truncateAfter: number };

export interface Loaded extends StoredData {
  /** Bytes of each file that checked (the log's records after any cut, without its zero tail). */
  logBytes: number;
  /** The log file's length as left: its records and the zero tail after them (none once cut). */
  logFileBytes: number;
  snapshotBytes: number;
}

/**
 * Reads what a DATA_DIR holds, checking every record: the snapshot and epoch files must check
 * whole (they are written to a temporary file, synced, then renamed into place, so a crash
 * leaves the old one); the log's records end where only zeros follow (the zeros written ahead
 * of them, DiskStorage's preallocation), and it is cut at its first record that does not
 * check, a torn write at the end or a damaged record in the middle alike, and the entries
 * beyond it are fetched from the leader again. A snapshot that does not check is set aside
 * (`snapshot.corrupt`) with the log after it, and the node starts empty but for its promises:
 * the rest comes back from its peers (a follower by the leader's snapshot, a leader by recovery
 * from its followers). Only a corrupt epoch file stops the start: the promise it held cannot be
 * rebuilt from anything stored, and a node that forgot it could answer a deposed leader. `log`
 * says what was cut.
 */
export function loadDir(fs: FileSystem, dir: string, log: (line: string) => void): Loaded {
  const { epoch, writeQuorum, writeQuorumFloor } = loadEpoch(fs, join(dir, storageFiles.epoch));
  const { snapshot, snapshotBytes, setAside } = loadSnapshot(fs, join(dir, storageFiles.snapshot), log);
  const snapshotOffset = snapshot?.offset ?? 0;
  const logPath = join(dir, storageFiles.log);
  // The log's entries follow the snapshot set aside: without it they cannot be applied.
  if (setAside && fs.exists(logPath)) fs.truncate(logPath, 0);
  // The rename made durable: were the snapshot to come back after a crash, it would be set aside
  // again with the log, entries acknowledged since included (the log's next sync makes its truncation durable).
  if (setAside) fs.syncDir(dir);
  const bytes = fs.exists(logPath) ? fs.read(logPath) : new Uint8Array(0);
  const { records, starts, bad, dataBytes } = decodeRecords(bytes, { zeroTail: true });
  const entries: Entry[] = [];
  let goodBytes = bad?.byteOffset ?? dataBytes;
  let misplaced: number | null = null;
  for (const [index, record] of (records as LogRecord[]).entries()) {
    if ("truncateAfter" in record) {
      entries.length = Math.max(0, Math.min(entries.length, record.truncateAfter - snapshotOffset));
    } else {
      for (const entry of record.append) {
        if (entry.offset <= snapshotOffset) continue;
        const at = entry.offset - snapshotOffset - 1;
        if (at > entries.length) misplaced = starts[index]!;
        if (misplaced !== null) break;
        entries.length = at;
        entries.push(entry);
      }
    }
    if (misplaced !== null) break;
  }
  if (misplaced !== null) goodBytes = misplaced;
  // A zero tail after the records stays: it is where the next records go.
  const cut = goodBytes < dataBytes;
  if (cut) {
    const kind = misplaced !== null ? "a record out of sequence" : bad?.kind === "torn" ? "a torn record at the end" : "a corrupt record";
    log(`storage: ${logPath} byte ${goodBytes}: ${kind}; the log is cut there (${dataBytes - goodBytes} bytes dropped), the leader sends what followed again`);
    fs.truncate(logPath, goodBytes);
  }
  return { epoch, writeQuorum, writeQuorumFloor, snapshot, entries, logBytes: goodBytes, logFileBytes: cut ? goodBytes : bytes.length, snapshotBytes };
}

/** The epoch promise, and the write quorum and its floor kept beside it (absent in a directory written before they were kept). */
function loadEpoch(fs: FileSystem, path: string): { epoch: number; writeQuorum: number | null; writeQuorumFloor: number | null } {
  if (!fs.exists(path)) return { epoch: 0, writeQuorum: null, writeQuorumFloor: null };
  const { records, bad } = decodeRecords(fs.read(path));
  const record = records[0] as { epoch?: unknown; writeQuorum?: unknown; writeQuorumFloor?: unknown } | undefined;
  if (bad || typeof record?.epoch !== "number")
    throw new StorageCorrupt(
      `${path} byte ${bad?.byteOffset ?? 0}: the epoch promise does not check; restore the directory or start this node empty (it then rejoins from the leader)`,
    );
  const quorum = (value: unknown) => (Number.isInteger(value) && (value as number) >= 0 ? (value as number) : null);
  return { epoch: record.epoch, writeQuorum: quorum(record.writeQuorum), writeQuorumFloor: quorum(record.writeQuorumFloor) };
}

function loadSnapshot(
  fs: FileSystem,
  path: string,
  log: (line: string) => void,
): { snapshot: StoredData["snapshot"]; snapshotBytes: number; setAside: boolean } {
  if (!fs.exists(path)) return { snapshot: null, snapshotBytes: 0, setAside: false };
  const bytes = fs.read(path);
  const decoded = decodeSnapshot(bytes);
  if ("badByteOffset" in decoded) {
    const corruptPath = `${path}.corrupt`;
    log(
      `storage: ${path} byte ${decoded.badByteOffset}: the snapshot does not check; set aside as ${corruptPath} with the log after it, this node starts empty but for its epoch promise and gets the data again from its peers`,
    );
    fs.rename(path, corruptPath);
    return { snapshot: null, snapshotBytes: 0, setAside: true };
  }
  return { snapshot: decoded.snapshot, snapshotBytes: bytes.length, setAside: false };
}
