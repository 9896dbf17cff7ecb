import type { LeaderCore } from "./leader.ts";
import type { Entry, ReplicateMessage, SnapshotChunk } from "./types.ts";

/** A message for follower `follower`; `sequence` numbers it among those sent to that follower. */
export interface Outgoing<Body> {
  follower: number;
  sequence: number;
  body: Body;
}

/**
 * What the leader must do now (etcd's `Ready`): store `entries` (appended since the last call),
 * send `messages` and `chunks`; `fullResyncs` says which followers switched to snapshot, and why.
 */
export interface LeaderReady {
  entries: Entry[];
  messages: Outgoing<ReplicateMessage>[];
  chunks: Outgoing<SnapshotChunk>[];
  fullResyncs: { follower: number; reason: string }[];
}

/** Everything to store and send now, for every follower (LeaderCore.takeMessages and takeSnapshotChunk, numbered). */
export function leaderReady(core: LeaderCore, nowMs: number, heartbeatMs: number): LeaderReady {
  const ready: LeaderReady = { entries: core.takeEntriesToStore(), messages: [], chunks: [], fullResyncs: [] };
  for (let index = 0; index < core.followers.length; index++) {
    const progress = core.followers[index]!;
    const fullResyncs = progress.fullResyncs;
    let sequence = progress.sentCount;
    for (const body of core.takeMessages(index, nowMs, heartbeatMs)) ready.messages.push({ follower: index, sequence: sequence++, body });
    if (progress.fullResyncs > fullResyncs) ready.fullResyncs.push({ follower: index, reason: progress.lastFullResyncReason ?? "" });
    sequence = progress.sentCount;
    const chunk = core.takeSnapshotChunk(index, nowMs);
    if (chunk) ready.chunks.push({ follower: index, sequence, body: chunk });
  }
  return ready;
}
