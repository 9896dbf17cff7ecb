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
