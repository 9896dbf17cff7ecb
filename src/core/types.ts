/** One write in the replicated log. `value` is the JSON text of the value; null deletes the key. */
export interface Entry {
  offset: number;
  epoch: number;
  key: string;
  value: string | null;
}

/** Leader → follower. `prevOffset` is the offset just before `entries[0]` (or the acked offset for a heartbeat). */
export interface ReplicateMessage {
  epoch: number;
  leaderId: string;
  prevOffset: number;
  entries: Entry[];
  commitOffset: number;
}

/** Follower → leader. `lastOffset` is the highest offset the follower holds contiguously. */
export type ReplicateReply =
  | { kind: "ok"; lastOffset: number }
  | { kind: "gap"; lastOffset: number }
  | { kind: "stale_epoch"; epoch: number };

/** A key, its value's JSON text and the offset of the write that set it. */
export type SnapshotPair = [key: string, value: string, offset: number];

/**
 * One piece of the leader's committed state at `snapshotOffset`, for a follower that needs
 * entries the log no longer holds. Chunks go one at a time, in order; `done` marks the last.
 */
export interface SnapshotChunk {
  epoch: number;
  leaderId: string;
  snapshotOffset: number;
  chunk: number;
  pairs: SnapshotPair[];
  done: boolean;
  commitOffset: number;
}

/** Follower → leader, for a snapshot chunk. `gap` asks the leader to start the snapshot over. */
export type SnapshotReply =
  | { kind: "ok"; lastOffset: number }
  | { kind: "chunk_ok"; chunk: number }
  | { kind: "gap"; lastOffset: number }
  | { kind: "stale_epoch"; epoch: number };
