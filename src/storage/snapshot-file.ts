import type { SnapshotPair } from "../core/types.ts";
import type { StoredData, StoredSnapshot } from "../node/storage.ts";
import { decodeFrames, encodeFrame, encodeRecord } from "./records.ts";

/**
 * The snapshot file: a JSON head record `{offset, epoch, pairs: "binary"}`, the pairs in records of
 * about `recordBytes`, then a JSON end record `{end: count}`. A pair record is binary, pair after
 * pair: key, value (each a string: [length u32][bytes]), offset (f64), little-endian. It decodes
 * 3-4 times faster than the same pairs as JSON (whose values, JSON texts themselves, were escaped
 * inside it), which was most of a large node's restart. A string is UTF-8, or UTF-16LE (the
 * length's top bit set) when it is not well-formed Unicode (a lone surrogate, which UTF-8 cannot
 * carry and JSON could). A head without `pairs` is the older format, its pair records
 * `{"pairs": [[key, value, offset]…]}` in JSON.
 */
export function* snapshotRecords(snapshot: StoredSnapshot, recordBytes: number): Generator<Buffer> {
  yield encodeRecord({ offset: snapshot.offset, epoch: snapshot.epoch, pairs: "binary" });
  let payload = Buffer.allocUnsafe(recordBytes);
  let used = 0;
  for (const [key, value, offset] of snapshot.pairs) {
    const pairBytes = 16 + stringBytes(key) + stringBytes(value);
    if (used > 0 && used + pairBytes > payload.length) {
      yield encodeFrame(payload.subarray(0, used));
      used = 0;
    }
    if (pairBytes > payload.length) payload = Buffer.allocUnsafe(pairBytes);
    used = writeString(payload, used, key);
    used = writeString(payload, used, value);
    payload.writeDoubleLE(offset, used);
    used += 8;
  }
  if (used > 0) yield encodeFrame(payload.subarray(0, used));
  yield encodeRecord({ end: snapshot.pairs.length });
}

const utf16Flag = 0x8000_0000;

function stringBytes(text: string): number {
  return text.isWellFormed() ? Buffer.byteLength(text, "utf8") : text.length * 2;
}

/** Writes [length u32][bytes] at `at`; returns where it ends. */
function writeString(payload: Buffer, at: number, text: string): number {
  const encoding = text.isWellFormed() ? "utf8" : "utf16le";
  const bytes = payload.write(text, at + 4, encoding);
  payload.writeUInt32LE(encoding === "utf8" ? bytes : (bytes | utf16Flag) >>> 0, at);
  return at + 4 + bytes;
}

/** The snapshot a file holds, or the byte offset from which it does not check. */
export function decodeSnapshot(bytes: Uint8Array): { snapshot: NonNullable<StoredData["snapshot"]> } | { badByteOffset: number } {
  const { payloads, starts, bad } = decodeFrames(bytes);
  if (bad) return { badByteOffset: bad.byteOffset };
  const head = parseJson(payloads[0]) as { offset?: unknown; epoch?: unknown; pairs?: unknown } | undefined;
  const end = parseJson(payloads.length > 1 ? payloads.at(-1) : undefined) as { end?: unknown } | undefined;
  if (typeof head?.offset !== "number" || typeof head.epoch !== "number") return { badByteOffset: 0 };
  if (typeof end?.end !== "number") return { badByteOffset: starts.at(-1) ?? 0 };
  const pairs: SnapshotPair[] = [];
  for (let index = 1; index < payloads.length - 1; index++) {
    const decoded = head.pairs === "binary" ? decodeBinaryPairs(payloads[index]!, pairs) : decodeJsonPairs(payloads[index]!, pairs);
    if (!decoded) return { badByteOffset: starts[index]! };
  }
  if (pairs.length !== end.end) return { badByteOffset: starts.at(-1)! };
  return { snapshot: { offset: head.offset, epoch: head.epoch, pairs } };
}

/** Appends the pairs of one binary record; false if it does not decode whole (its checksum matched: written wrong). */
function decodeBinaryPairs(payload: Buffer, into: SnapshotPair[]): boolean {
  let at = 0;
  while (at < payload.length) {
    const key = readString(payload, at);
    if (!key) return false;
    const value = readString(payload, key.end);
    if (!value || value.end + 8 > payload.length) return false;
    into.push([key.text, value.text, payload.readDoubleLE(value.end)]);
    at = value.end + 8;
  }
  return true;
}

function readString(payload: Buffer, at: number): { text: string; end: number } | null {
  if (at + 4 > payload.length) return null;
  const length = payload.readUInt32LE(at);
  const end = at + 4 + (length & ~utf16Flag);
  if (end > payload.length) return null;
  return { text: payload.toString(length & utf16Flag ? "utf16le" : "utf8", at + 4, end), end };
}

function decodeJsonPairs(payload: Buffer, into: SnapshotPair[]): boolean {
  const record = parseJson(payload) as { pairs?: unknown } | undefined;
  if (!Array.isArray(record?.pairs)) return false;
  for (const pair of record.pairs as SnapshotPair[]) into.push(pair);
  return true;
}

function parseJson(payload: Buffer | undefined): unknown {
  if (payload === undefined) return undefined;
  try {
    return JSON.parse(payload.toString("utf8"));
  } catch {
    return undefined;
  }
}
