/**
 * The framing of every file DiskStorage writes: records of [payload length u32][CRC-32 of the
 * payload u32][payload], little-endian; the payload is UTF-8 JSON, except the pairs of a snapshot
 * (snapshot-file.ts). A record is trusted only when its checksum matches, so a torn write at the
 * end and a flipped byte anywhere are both seen on reading.
 */

const headerBytes = 8;

export function encodeFrame(payload: Uint8Array): Buffer {
  const record = Buffer.allocUnsafe(headerBytes + payload.length);
  record.writeUInt32LE(payload.length, 0);
  record.writeUInt32LE(Bun.hash.crc32(payload), 4);
  record.set(payload, headerBytes);
  return record;
}

export function encodeRecord(value: unknown): Buffer {
  return encodeFrame(Buffer.from(JSON.stringify(value)));
}

/** Where reading stopped early: the byte offset of the first record that did not check, and whether it was the last one (torn) or not (corrupt). */
export interface BadRecord {
  byteOffset: number;
  kind: "torn" | "corrupt";
}

/** The payload of every record whose checksum matches, in order (`starts`: the byte offset of each), until the first that does not (reported in `bad`). */
export function decodeFrames(bytes: Uint8Array): { payloads: Buffer[]; starts: number[]; bad: BadRecord | null } {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const payloads: Buffer[] = [];
  const starts: number[] = [];
  let position = 0;
  while (position < view.length) {
    if (position + headerBytes > view.length) return { payloads, starts, bad: { byteOffset: position, kind: "torn" } };
    const length = view.readUInt32LE(position);
    const end = position + headerBytes + length;
    if (end > view.length) return { payloads, starts, bad: { byteOffset: position, kind: "torn" } };
    const payload = view.subarray(position + headerBytes, end);
    // A bad last record is a write the crash cut short; one with records after it was damaged at rest.
    if (Bun.hash.crc32(payload) !== view.readUInt32LE(position + 4)) return { payloads, starts, bad: badAt(position, end, view.length) };
    payloads.push(payload);
    starts.push(position);
    position = end;
  }
  return { payloads, starts, bad: null };
}

/** Every record that checks and parses as JSON, in order, until the first that does not (reported in `bad`). */
export function decodeRecords(bytes: Uint8Array): { records: unknown[]; starts: number[]; bad: BadRecord | null } {
  const frames = decodeFrames(bytes);
  const records: unknown[] = [];
  for (const [index, payload] of frames.payloads.entries()) {
    const parsed = parseJson(payload);
    if (parsed === undefined) {
      const start = frames.starts[index]!;
      return { records, starts: frames.starts.slice(0, index), bad: badAt(start, start + headerBytes + payload.length, bytes.byteLength) };
    }
    records.push(parsed);
  }
  return { records, starts: frames.starts, bad: frames.bad };
}

function badAt(start: number, end: number, fileBytes: number): BadRecord {
  return { byteOffset: start, kind: end === fileBytes ? "torn" : "corrupt" };
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString("utf8"));
  } catch {
    return undefined;
  }
}
