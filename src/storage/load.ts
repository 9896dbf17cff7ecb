import { existsSync, readFileSync, truncateSync } from "node:fs";
import { join } from "node:path";
import type { Entry, SnapshotPair } from "../core/types.ts";
import type { StoredData } from "../node/storage.ts";
import { decodeRecords } from "./records.ts";

/** The files of one node's DATA_DIR. */
export const storageFiles = { log: "log", snapshot: "snapshot", epoch: "epoch" } as const;

/** Stored data that cannot be repaired here (a corrupt snapshot or epoch file): the node refuses to start. */
export class StorageCorrupt extends Error {
  override name = "StorageCorrupt";
}

/** One log record: entries appended, a truncation, or (first in a rewritten log) nothing else. */
export type LogRecord = { append: readonly Entry[] } | { truncateAfter: number };

export interface Loaded extends StoredData {
  /** Bytes of each file that checked (the log's after any cut). */
  logBytes: number;
  snapshotBytes: number;
}

/**
 * Reads what a DATA_DIR holds, checking every record: the snapshot and epoch files must check
 * whole (they are written to a temporary file, synced, then renamed into place, so a crash
 * leaves the old one); the log is cut at its first record that does not check, a torn write at
 * the end or a damaged record in the middle alike, and the entries beyond it are fetched from
 * the leader again. `log` says what was cut.
 */
export function loadDir(dir: string, log: (line: string) => void): Loaded {
  const { epoch, writeQuorum, writeQuorumFloor } = loadEpoch(join(dir, storageFiles.epoch));
  const { snapshot, snapshotBytes } = loadSnapshot(join(dir, storageFiles.snapshot));
  const snapshotOffset = snapshot?.offset ?? 0;
  const logPath = join(dir, storageFiles.log);
  const bytes = existsSync(logPath) ? readFileSync(logPath) : new Uint8Array(0);
  const { records, starts, bad } = decodeRecords(bytes);
  const entries: Entry[] = [];
  let goodBytes = bad?.byteOffset ?? bytes.length;
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
  if (goodBytes < bytes.length) {
    const kind = misplaced !== null ? "a record out of sequence" : bad?.kind === "torn" ? "a torn record at the end" : "a corrupt record";
    log(
      `storage: ${logPath} byte ${goodBytes}: ${kind}; the log is cut there (${bytes.length - goodBytes} bytes dropped), the leader sends what followed again`,
    );
    truncateSync(logPath, goodBytes);
  }
  return { epoch, writeQuorum, writeQuorumFloor, snapshot, entries, logBytes: goodBytes, snapshotBytes };
}

/** The epoch promise, and the write quorum and its floor kept beside it (absent in a directory written before they were kept). */
function loadEpoch(path: string): { epoch: number; writeQuorum: number | null; writeQuorumFloor: number | null } {
  if (!existsSync(path)) return { epoch: 0, writeQuorum: null, writeQuorumFloor: null };
  const { records, bad } = decodeRecords(readFileSync(path));
  const record = records[0] as { epoch?: unknown; writeQuorum?: unknown; writeQuorumFloor?: unknown } | undefined;
  if (bad || typeof record?.epoch !== "number")
    throw new StorageCorrupt(
      `${path} byte ${bad?.byteOffset ?? 0}: the epoch promise does not check; restore the directory or start this node empty (it then rejoins from the leader)`,
    );
  const quorum = (value: unknown) => (Number.isInteger(value) && (value as number) >= 0 ? (value as number) : null);
  return { epoch: record.epoch, writeQuorum: quorum(record.writeQuorum), writeQuorumFloor: quorum(record.writeQuorumFloor) };
}

function loadSnapshot(path: string): { snapshot: StoredData["snapshot"]; snapshotBytes: number } {
  if (!existsSync(path)) return { snapshot: null, snapshotBytes: 0 };
  const bytes = readFileSync(path);
  const { records, bad } = decodeRecords(bytes);
  const head = records[0] as { offset?: unknown; epoch?: unknown } | undefined;
  const end = records.at(-1) as { end?: unknown } | undefined;
  if (bad || typeof head?.offset !== "number" || typeof head.epoch !== "number" || typeof end?.end !== "number") {
    throw new StorageCorrupt(
      `${path} byte ${bad?.byteOffset ?? bytes.length}: the snapshot does not check; restore the directory or start this node empty (it then rejoins from the leader)`,
    );
  }
  const pairs: SnapshotPair[] = [];
  for (const record of records.slice(1, -1) as { pairs: SnapshotPair[] }[]) for (const pair of record.pairs) pairs.push(pair);
  if (pairs.length !== end.end) throw new StorageCorrupt(`${path}: the snapshot holds ${pairs.length} pairs, its end record says ${end.end}`);
  return { snapshot: { offset: head.offset, epoch: head.epoch, pairs }, snapshotBytes: bytes.length };
}
