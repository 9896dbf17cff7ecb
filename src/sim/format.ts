import type { ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotReply } from "../core/types.ts";

/** Short, stable renderings of protocol data for trace lines. */
export function formatMessage(message: ReplicateMessage): string {
  const { entries } = message;
  const carried = entries.length === 0 ? "heartbeat" : `entries ${entries[0]!.offset}..${entries[entries.length - 1]!.offset}`;
  return `e${message.epoch} prev=${message.prevOffset}(e${message.prevEpoch}) ${carried} commit=${message.commitOffset}`;
}

export function formatChunk(chunk: SnapshotChunk): string {
  const done = chunk.done ? " done" : "";
  return `e${chunk.epoch} snapshot at ${chunk.snapshotOffset}(e${chunk.snapshotEpoch}) chunk ${chunk.chunk} (${chunk.pairs.length} keys${done}) commit=${chunk.commitOffset}`;
}

export function formatReply(reply: ReplicateReply | SnapshotReply): string {
  switch (reply.kind) {
    case "stale_epoch":
      return `stale_epoch e${reply.epoch}`;
    case "chunk_ok":
      return `chunk_ok ${reply.chunk} i${reply.incarnation}`;
    default:
      return `${reply.kind} last=${reply.lastOffset} i${reply.incarnation}${"diverged" in reply && reply.diverged ? " diverged" : ""}`;
  }
}

export function followerName(index: number): string {
  return `f${index}`;
}
