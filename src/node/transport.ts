import { constants } from "../core/constants.ts";
import type { FollowerPosition } from "../core/recovery.ts";
import type { Entry, RecoveryData, ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotPair, SnapshotReply } from "../core/types.ts";

export type { RecoveryData } from "../core/types.ts";

/**
 * How the leader reaches a follower: a WebSocket stream or HTTP in production
 * (`TRANSPORT`), the simulated network in src/sim. Calls answer through a callback, exactly
 * once: the follower's answer, or a TransportError (unreachable, refused, timed out). A callback
 * rather than a Promise so that the simulator runs the node without a microtask queue.
 */
export interface Transport {
  /** What carries the calls, for /status: "websocket", "http", "in-process", "simulated". */
  readonly name: string;
  replicate(followerUrl: string, message: ReplicateMessage, timeoutMs: number, done: Answer<TransportReply<ReplicateReply>>): void;
  snapshot(followerUrl: string, chunk: SnapshotChunk, timeoutMs: number, done: Answer<TransportReply<SnapshotReply>>): void;
  /** The follower adopts `epoch` (refusing older leaders from then on) and says where it was. */
  fence(followerUrl: string, epoch: number, leaderId: string, timeoutMs: number, done: Answer<FollowerPosition>): void;
  /** The follower's data; fails once nothing arrived for `idleTimeoutMs` (a large state may take longer in all). */
  recover(followerUrl: string, idleTimeoutMs: number, done: Answer<RecoveryData>): void;
  /** Closes connections (the node stops). */
  close(): void;
}

export type Answer<Value> = (answer: Value | TransportError) => void;

export interface TransportReply<Reply> {
  reply: Reply;
  /** The follower's NODE_ID, when it said. */
  nodeId?: string;
}

export class TransportError extends Error {
  override name = "TransportError";
}

/** Settles `done` with a Promise's value, or with a TransportError for any failure. */
export function settle<Value>(promise: Promise<Value>, done: Answer<Value>): void {
  promise.then(done, (error: unknown) => done(error instanceof TransportError ? error : new TransportError(String(error))));
}

export type Body = Record<string, unknown> | null;

/** Turns a follower's 200 / 409 answer into a reply; anything else is a TransportError. */
function toReply<Reply>(
  url: string,
  status: number,
  body: Body,
  ok: (body: Record<string, unknown>, incarnation: number) => Reply | null,
): TransportReply<Reply> {
  const nodeId = typeof body?.nodeId === "string" ? body.nodeId : undefined;
  const incarnation = typeof body?.incarnation === "number" ? body.incarnation : null;
  const okReply = status === 200 && body && incarnation !== null ? ok(body, incarnation) : null;
  if (okReply) return { reply: okReply, nodeId };
  if (status === 409 && body?.error === "gap" && typeof body.lastOffset === "number" && incarnation !== null) {
    const gap = { kind: "gap", lastOffset: body.lastOffset, incarnation, ...(body.diverged === true ? { diverged: true } : {}) };
    return { reply: gap as Reply, nodeId };
  }
  if (status === 409 && body?.error === "stale_epoch" && typeof body.epoch === "number") {
    return { reply: { kind: "stale_epoch", epoch: body.epoch } as Reply, nodeId };
  }
  throw new TransportError(`${url} answered ${status} ${JSON.stringify(body)}`);
}

/** A follower's answer to a replicate message (HTTP route or stream frame) as a reply. */
export function replicateReply(url: string, status: number, body: Body): TransportReply<ReplicateReply> {
  return toReply<ReplicateReply>(url, status, body, (ok, incarnation) =>
    typeof ok.lastOffset === "number" ? { kind: "ok", lastOffset: ok.lastOffset, incarnation } : null,
  );
}

/** A follower's answer to a snapshot chunk as a reply. */
export function snapshotReply(url: string, status: number, body: Body): TransportReply<SnapshotReply> {
  return toReply<SnapshotReply>(url, status, body, (ok, incarnation) => {
    if (typeof ok.lastOffset === "number") return { kind: "ok", lastOffset: ok.lastOffset, incarnation };
    if (typeof ok.chunk === "number") return { kind: "chunk_ok", chunk: ok.chunk, incarnation };
    return null;
  });
}

/**
 * `/internal/recover` is NDJSON: a header `{epoch, appliedOffset, pairs, entries}` (counts),
 * then that many `[key, value, offset]` pairs, then that many entries.
 */
export function* recoveryLines(data: RecoveryData): Generator<string> {
  yield JSON.stringify({
    epoch: data.epoch,
    appliedOffset: data.appliedOffset,
    appliedEpoch: data.appliedEpoch,
    pairs: data.pairs.length,
    entries: data.entries.length,
  });
  for (const pair of data.pairs) yield JSON.stringify(pair);
  for (const entry of data.entries) yield JSON.stringify(entry);
}

interface RecoveryHeader {
  epoch: number;
  appliedOffset: number;
  appliedEpoch: number;
  pairs: number;
  entries: number;
}

const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

/**
 * Parses `/internal/recover` as it arrives, line by line: never more than `recoveryStreamBytesMax`
 * bytes in all (a line may be as long as an honest value is: MAX_VALUE_BYTES is a setting), nor
 * more lines than the header announced. `onProgress` is called for every chunk (the caller's idle timeout).
 */
export async function readRecoveryStream(
  chunks: AsyncIterable<Uint8Array>,
  onProgress: () => void = () => {},
  bytesMax: number = constants.recoveryStreamBytesMax,
): Promise<RecoveryData> {
  const decoder = new TextDecoder();
  let header: RecoveryHeader | null = null;
  const data: RecoveryData = { epoch: 0, appliedOffset: 0, appliedEpoch: 0, pairs: [], entries: [] };
  let bytes = 0;
  let partial = "";
  const take = (line: string) => {
    if (!line) return;
    const parsed = JSON.parse(line) as unknown;
    if (!header) {
      const candidate = parsed as RecoveryHeader | null;
      const counts = [candidate?.epoch, candidate?.appliedOffset, candidate?.appliedEpoch, candidate?.pairs, candidate?.entries];
      if (!counts.every(isCount)) throw new TransportError("recovery stream: bad header");
      header = candidate!;
      Object.assign(data, { epoch: header.epoch, appliedOffset: header.appliedOffset, appliedEpoch: header.appliedEpoch });
    } else if (data.pairs.length < header.pairs) data.pairs.push(parsed as SnapshotPair);
    else if (data.entries.length < header.entries) data.entries.push(parsed as Entry);
    else throw new TransportError("recovery stream: more lines than its header announced");
  };
  for await (const chunk of chunks) {
    onProgress();
    bytes += chunk.byteLength;
    if (bytes > bytesMax) throw new TransportError(`recovery stream: longer than ${bytesMax} bytes`);
    const lines = (partial + decoder.decode(chunk, { stream: true })).split("\n");
    partial = lines.pop()!;
    for (const line of lines) take(line);
  }
  take(partial + decoder.decode());
  const complete = header as RecoveryHeader | null;
  if (!complete || data.pairs.length !== complete.pairs || data.entries.length !== complete.entries) throw new TransportError("truncated recovery stream");
  return data;
}
