import type { FollowerPosition } from "../core/recovery.ts";
import type { Entry, ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotPair, SnapshotReply } from "../core/types.ts";

/** Everything a restarting leader takes over from a follower: its committed state and what it holds beyond. */
export interface RecoveryData {
  epoch: number;
  appliedOffset: number;
  appliedEpoch: number;
  pairs: SnapshotPair[];
  entries: Entry[];
}

/** How the leader reaches a follower. HTTP in production; tests may swap it. */
export interface Transport {
  replicate(followerUrl: string, message: ReplicateMessage, timeoutMs: number): Promise<TransportReply<ReplicateReply>>;
  snapshot(followerUrl: string, chunk: SnapshotChunk, timeoutMs: number): Promise<TransportReply<SnapshotReply>>;
  /** The follower adopts `epoch` (refusing older leaders from then on) and says where it was. */
  fence(followerUrl: string, epoch: number, leaderId: string, timeoutMs: number): Promise<FollowerPosition>;
  recover(followerUrl: string, timeoutMs: number): Promise<RecoveryData>;
}

export interface TransportReply<Reply> {
  reply: Reply;
  /** The follower's NODE_ID, when it said. */
  nodeId?: string;
}

export class TransportError extends Error {
  override name = "TransportError";
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

export function parseRecoveryStream(text: string): RecoveryData {
  const lines = text.split("\n").filter(Boolean);
  const header = JSON.parse(lines[0] ?? "null") as {
    epoch: number;
    appliedOffset: number;
    appliedEpoch: number;
    pairs: number;
    entries: number;
  } | null;
  if (!header || lines.length !== 1 + header.pairs + header.entries) throw new TransportError("truncated recovery stream");
  return {
    epoch: header.epoch,
    appliedOffset: header.appliedOffset,
    appliedEpoch: header.appliedEpoch,
    pairs: lines.slice(1, 1 + header.pairs).map((line) => JSON.parse(line) as SnapshotPair),
    entries: lines.slice(1 + header.pairs).map((line) => JSON.parse(line) as Entry),
  };
}
