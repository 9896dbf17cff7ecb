import { constants } from "./constants.ts";

/**
 * The leader's view of one follower (etcd's `Progress`): `probe` sends one message at a time
 * until the follower's position is known (catching up); `streaming` pipelines up to
 * `inflightMessagesMax`; `snapshot` sends the committed state in chunks because the follower
 * needs entries the log no longer holds.
 */
export type ReplicationState = "probe" | "streaming" | "snapshot";

export class FollowerProgress {
  static readonly unknownIncarnation = -1;
  /** The follower process the leader talks to (see ReplicateReply). */
  incarnation = FollowerProgress.unknownIncarnation;
  /** Processes this follower ran before, newest last (at most retiredIncarnationsMax): their replies are ignored. */
  retiredIncarnations: number[] = [];
  /** Highest offset the follower acknowledged holding (contiguously). */
  matchOffset = 0;
  /** Next offset to send. */
  nextOffset = 1;
  inflightMessages = 0;
  state: ReplicationState = "probe";
  /** No message before this time (after a failure). */
  pausedUntilMs = 0;
  lastReplyAtMs = Number.NEGATIVE_INFINITY;
  lastSentAtMs = Number.NEGATIVE_INFINITY;
  /** Commit offset carried by the last message sent, so a new commit is announced promptly. */
  lastSentCommitOffset = 0;
  /** The follower applied writes this leader does not have: not counted, repaired by snapshot. */
  diverged = false;
  /** The diverged follower's applied offset: its snapshot waits until the leader's state reaches it. */
  divergedAppliedOffset = 0;
  /** Times the follower answered `gap` and was re-sent from its own offset. */
  partialResyncs = 0;
  /** Times the follower needed a snapshot, and why the last time. */
  fullResyncs = 0;
  lastFullResyncReason: string | null = null;
  /** Snapshot transfer: index of the next pair to send, the chunk number, and where the chunk in flight ends. */
  snapshotOffset = 0;
  snapshotPairIndex = 0;
  snapshotChunk = 0;
  snapshotChunkEndIndex = 0;

  canSend(nowMs: number): boolean {
    if (nowMs < this.pausedUntilMs) return false;
    const limit = this.state === "streaming" ? constants.inflightMessagesMax : 1;
    return this.inflightMessages < limit;
  }

  healthy(nowMs: number): boolean {
    return nowMs - this.lastReplyAtMs < constants.unhealthyAfterMs;
  }
}
