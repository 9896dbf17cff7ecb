/**
 * The framing of every file DiskStorage writes: records of [payload length u32][CRC-32 of the
 * payload u32][payload: UTF-8 JSON], little-endian. A record is trusted only when its checksum
 * matches, so a torn write at the end and a flipped byte anywhere are both seen on reading.
 */

const headerBytes = 8;

export function encodeRecord(value: unknown): Buffer {
  const payload = Buffer.from(JSON.stringify(value));
  const record = Buffer.allocUnsafe(headerBytes + payload.length);
  record.writeUInt32LE(payload.length, 0);
  record.writeUInt32LE(Bun.hash.crc32(payload), 4);
  payload.copy(record, headerBytes);
  return record;
}

/** Where reading stopped early: the byte offset of the first record that did not check, and whether it was the last one (torn) or not (corrupt). */
export interface BadRecord {
  byteOffset: number;
  kind: "torn" | "corrupt";
}

/** Every record that checks, in order (`starts`: the byte offset of each), until the first that does not (reported in `bad`). */
export function decodeRecords(bytes: Uint8Array): { records: unknown[]; starts: number[]; bad: BadRecord | null } {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: unknown[] = [];
  const starts: number[] = [];
  let position = 0;
  while (position < view.length) {
    if (position + headerBytes > view.length) return { records, starts, bad: { byteOffset: position, kind: "torn" } };
    const length = view.readUInt32LE(position);
    const end = position + headerBytes + length;
    if (end > view.length) return { records, starts, bad: { byteOffset: position, kind: "torn" } };
    const payload = view.subarray(position + headerBytes, end);
    const parsed = Bun.hash.crc32(payload) === view.readUInt32LE(position + 4) ? parseJson(view, position + headerBytes, end) : undefined;
    // A bad last record is a write the crash cut short; one with records after it was damaged at rest.
    if (parsed === undefined) return { records, starts, bad: { byteOffset: position, kind: end === view.length ? "torn" : "corrupt" } };
    records.push(parsed);
    starts.push(position);
    position = end;
  }
  return { records, starts, bad: null };
}

function parseJson(view: Buffer, start: number, end: number): unknown {
  try {
    return JSON.parse(view.toString("utf8", start, end));
  } catch {
    return undefined;
  }
}
