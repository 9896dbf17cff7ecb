import { constants } from "./constants.ts";

/**
 * The leader's view of one follower (etcd's `Progress`): `probe` sends one message at a time
 * until the follower's position is known; `streaming` pipelines up to `inflightMessagesMax`.
 */
export type ReplicationState = "probe" | "streaming";

export class FollowerProgress {
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
  /** Times the follower answered `gap` and was re-sent from its own offset. */
  partialResyncs = 0;

  canSend(nowMs: number): boolean {
    if (nowMs < this.pausedUntilMs) return false;
    const limit = this.state === "probe" ? 1 : constants.inflightMessagesMax;
    return this.inflightMessages < limit;
  }

  healthy(nowMs: number): boolean {
    return nowMs - this.lastReplyAtMs < constants.unhealthyAfterMs;
  }
}
