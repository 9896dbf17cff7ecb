import type { Txn } from "./txn.ts";

/** One write in the replicated log. `value` is the JSON text of the value; null deletes the key. */
export interface Entry {
  offset: number;
  epoch: number;
  key: string;
  value: string | null;
  /**
   * A conditional write (PUT|DELETE ?ifOffset): it changes the key only if the key's value was
   * set at this offset (0: the key is absent) when the entry is applied, on every node alike.
   */
  ifOffset?: number;
  /** A transaction (key "" and value null): applied as one step at this entry's offset. */
  txn?: Txn;
}

/**
 * Leader → follower. `prevOffset` is the offset just before `entries[0]` (or the acked offset for
 * a heartbeat) and `prevEpoch` the epoch of the leader's entry there (0 at offset 0, -1 when the
 * leader no longer knows it), so the follower can tell whether its log matches up to there.
 */
export interface ReplicateMessage {
  epoch: number;
  leaderId: string;
  prevOffset: number;
  prevEpoch: number;
  entries: Entry[];
  commitOffset: number;
  /**
   * The smallest write quorum that may have acknowledged an entry of the leader's log not yet
   * held by every follower (DESIGN §9: W is replicated state). Followers report it when fenced,
   * so a restarting leader hears from enough of them even after W was lowered at run time.
   * Absent: the message says nothing about it (the follower keeps what it knew).
   */
  writeQuorumFloor?: number;
  /**
   * The write quorum in force at the leader (W is replicated state, raised or lowered at run
   * time): followers keep it and report it when fenced, and a new leader adopts the one of the
   * log it takes over. Absent: the message says nothing about it.
   */
  writeQuorum?: number;
}

/**
 * Follower → leader. On `ok`, `lastOffset` is the highest offset where the follower's log is known
 * to match this leader's; on `gap`, the highest offset it holds. `incarnation` is new with every
 * start of the follower's process (random, compared by equality), so the leader can tell a reply
 * of a process that has since restarted (empty) from one of the process it talks to now. A `gap` with `diverged` says the
 * follower applied entries the leader's log does not have: only a snapshot repairs it.
 */
export type ReplicateReply =
  | { kind: "ok"; lastOffset: number; incarnation: number }
  | { kind: "gap"; lastOffset: number; incarnation: number; diverged?: true }
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
  /** Epoch of the entry at `snapshotOffset`. */
  snapshotEpoch: number;
  chunk: number;
  pairs: SnapshotPair[];
  done: boolean;
  commitOffset: number;
}

/** Follower → leader, for a snapshot chunk. `gap` asks the leader to start the snapshot over. */
export type SnapshotReply =
  | { kind: "ok"; lastOffset: number; incarnation: number }
  | { kind: "chunk_ok"; chunk: number; incarnation: number }
  | { kind: "gap"; lastOffset: number; incarnation: number }
  | { kind: "stale_epoch"; epoch: number };

/** Everything a restarting leader takes over from a follower: its committed state and what it holds beyond. */
export interface RecoveryData {
  epoch: number;
  appliedOffset: number;
  appliedEpoch: number;
  pairs: SnapshotPair[];
  entries: Entry[];
}
