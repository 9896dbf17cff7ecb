/**
 * The framing of every file DiskStorage writes: records of [payload length u32][CRC-32 of the
 * payload u32][payload], little-endian; the payload is UTF-8 JSON, except the pairs of a snapshot
 * (snapshot-file.ts). A record is trusted only when its checksum matches, so a torn write at the
 * end and a flipped byte anywhere are both seen on reading. No record is empty (its payload is
 * JSON, or a snapshot's pairs): a zero length never starts one, which lets the log end in zeros
 * written ahead of it (`zeroTail`, docs/storage.md).
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

export interface DecodeOptions {
  /**
   * The file may end in zero bytes written ahead of its records (the preallocated log): the
   * records end where only zeros follow. Without it every byte must belong to a record.
   */
  zeroTail?: boolean;
}

interface Stopped {
  /** The byte offset of each record that checked. */
  starts: number[];
  bad: BadRecord | null;
  /** Where the data ends: the file's length, or with `zeroTail` where its zero tail begins. */
  dataBytes: number;
}

/** The payload of every record whose checksum matches, in order, until the first that does not (reported in `bad`). */
export function decodeFrames(bytes: Uint8Array, options: DecodeOptions = {}): Stopped & { payloads: Buffer[] } {
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataBytes = options.zeroTail ? zeroTailStart(view) : view.length;
  const payloads: Buffer[] = [];
  const starts: number[] = [];
  const stop = (position: number, end: number) => ({ payloads, starts, bad: badAt(position, end, dataBytes), dataBytes });
  let position = 0;
  while (position < dataBytes) {
    if (position + headerBytes > view.length) return stop(position, view.length);
    const length = view.readUInt32LE(position);
    const end = position + headerBytes + length;
    if (end > view.length) return stop(position, end);
    // A zero length before the zero tail: a header lost (never written, or zeroed), not the end.
    if (length === 0 && options.zeroTail) return stop(position, end);
    const payload = view.subarray(position + headerBytes, end);
    if (Bun.hash.crc32(payload) !== view.readUInt32LE(position + 4)) return stop(position, end);
    payloads.push(payload);
    starts.push(position);
    position = end;
  }
  return { payloads, starts, bad: null, dataBytes };
}

/** Every record that checks and parses as JSON, in order, until the first that does not (reported in `bad`). */
export function decodeRecords(bytes: Uint8Array, options: DecodeOptions = {}): Stopped & { records: unknown[] } {
  const { payloads, ...frames } = decodeFrames(bytes, options);
  const records: unknown[] = [];
  for (const [index, payload] of payloads.entries()) {
    const parsed = parseJson(payload);
    if (parsed === undefined) {
      const start = frames.starts[index]!;
      return { ...frames, records, starts: frames.starts.slice(0, index), bad: badAt(start, start + headerBytes + payload.length, frames.dataBytes) };
    }
    records.push(parsed);
  }
  return { ...frames, records };
}

/**
 * A bad record whose bytes reach the end of the data (nothing but zeros, or nothing, after it)
 * is a write the crash cut short; one with data after it was damaged at rest.
 */
function badAt(start: number, end: number, dataBytes: number): BadRecord {
  return { byteOffset: start, kind: end >= dataBytes ? "torn" : "corrupt" };
}

/** The offset just after the last non-zero byte. */
function zeroTailStart(view: Buffer): number {
  let end = view.length;
  while (end > 0 && view[end - 1] === 0) end--;
  return end;
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString("utf8"));
  } catch {
    return undefined;
  }
}
