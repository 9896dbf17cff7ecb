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

  /**
   * Whether a reply comes from the follower process the leader is talking to. Incarnations are
   * random (a clock stepped back must not make a new process look old), so they are compared by
   * equality: an unknown one is a new process, and the process it replaced is retired, so its
   * late replies (it may claim entries the new process lacks) are ignored. A process's replies
   * all come before the next one's (one connection each: it closes before a new one opens). The
   * first reply of a restarted process resets what the leader believes it holds
   * (`verifiedOffset`). False when the reply's own content is not to be used.
   */
  fromCurrentProcess(incarnation: number, verifiedOffset: number): boolean {
    if (incarnation === this.incarnation) return true;
    if (this.retiredIncarnations.includes(incarnation)) return false;
    const restarted = this.incarnation !== FollowerProgress.unknownIncarnation;
    if (restarted) {
      this.retiredIncarnations.push(this.incarnation);
      if (this.retiredIncarnations.length > constants.retiredIncarnationsMax) this.retiredIncarnations.shift();
    }
    this.incarnation = incarnation;
    if (!restarted) return true;
    this.matchOffset = verifiedOffset;
    this.nextOffset = verifiedOffset + 1;
    this.state = "probe";
    this.snapshotOffset = 0;
    this.partialResyncs++;
    return false;
  }

  canSend(nowMs: number): boolean {
    if (nowMs < this.pausedUntilMs) return false;
    const limit = this.state === "streaming" ? constants.inflightMessagesMax : 1;
    return this.inflightMessages < limit;
  }

  healthy(nowMs: number): boolean {
    return nowMs - this.lastReplyAtMs < constants.unhealthyAfterMs;
  }
}
