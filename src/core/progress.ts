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
  /** Messages and chunks sent so far; each carries its number (`Outgoing.sequence`). */
  sentCount = 0;
  /** Log entries those messages carried (an entry sent again after a failure counts again). */
  entriesSent = 0;
  /** Number of the first message sent after the leader learnt of `incarnation`. */
  incarnationLearntAt = 0;
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
  /** Commit offset carried by the last message sent, so a new commit is announced (commitAnnounceDueMs). */
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
   * random (a clock stepped back must not make a new process look old), so they say "another
   * process", not which came first. A message sent after the leader learnt of the current process
   * (`sequence` ≥ `incarnationLearntAt`) can only reach it or a later one: a reply to it with
   * another incarnation is a restart, which retires the process it replaced and resets what the
   * leader believes the follower holds (`verifiedOffset`). A reply to an earlier message, or from
   * a retired process, may come from a process that has since restarted (and claim entries the
   * new one lacks): ignored. False when the reply's own content is not to be used.
   */
  fromCurrentProcess(incarnation: number, verifiedOffset: number, sequence: number): boolean {
    if (incarnation === this.incarnation) return true;
    if (sequence < this.incarnationLearntAt || this.retiredIncarnations.includes(incarnation)) return false;
    const restarted = this.incarnation !== FollowerProgress.unknownIncarnation;
    if (restarted) {
      this.retiredIncarnations.push(this.incarnation);
      if (this.retiredIncarnations.length > constants.retiredIncarnationsMax) this.retiredIncarnations.shift();
    }
    this.incarnation = incarnation;
    this.incarnationLearntAt = this.sentCount;
    if (!restarted) return true;
    this.matchOffset = verifiedOffset;
    this.nextOffset = verifiedOffset + 1;
    this.state = "probe";
    this.snapshotOffset = 0;
    this.partialResyncs++;
    return false;
  }

  canSend(nowMs: number): boolean {
    // A clock that stepped back must not stretch a backoff: it ends at most retryBackoffMs from now.
    if (Number.isFinite(this.pausedUntilMs)) this.pausedUntilMs = Math.min(this.pausedUntilMs, nowMs + constants.retryBackoffMs);
    if (nowMs < this.pausedUntilMs) return false;
    const limit = this.state === "streaming" ? constants.inflightMessagesMax : 1;
    return this.inflightMessages < limit;
  }

  /**
   * When a commit offset beyond the last one sent (`commitOffset`) must reach the follower in a
   * message of its own: once nothing is in flight (an answer would bring a pump and the next
   * batch) and its link has been quiet for `quietMs`. +Infinity when there is nothing to announce.
   */
  commitAnnounceDueMs(commitOffset: number, quietMs: number, nowMs: number): number {
    if (this.lastSentCommitOffset >= commitOffset || this.inflightMessages > 0) return Number.POSITIVE_INFINITY;
    const quietSinceMs = Math.max(this.lastSentAtMs, this.lastReplyAtMs);
    // A clock that stepped back (the last exchange "in the future") counts as quiet, as for heartbeats.
    return quietSinceMs > nowMs ? nowMs : quietSinceMs + quietMs;
  }

  healthy(nowMs: number): boolean {
    return nowMs - this.lastReplyAtMs < constants.unhealthyAfterMs;
  }

  /** Catch-up by snapshot: the log no longer holds what it needs, or it diverged. */
  startSnapshot(reason: string): void {
    this.state = "snapshot";
    this.fullResyncs++;
    this.lastFullResyncReason = reason;
    this.snapshotOffset = 0;
  }

  /**
   * It applied writes this leader does not have (after a lossy asynchronous-mode recovery): it no
   * longer counts toward any quorum, and a snapshot replaces its state once the leader's state
   * reaches its applied offset (so a follower's offsets never go back).
   */
  markDiverged(appliedOffset: number, why: string): void {
    this.diverged = true;
    this.divergedAppliedOffset = appliedOffset;
    this.matchOffset = 0;
    this.startSnapshot(`diverged: ${why}`);
  }

  /** The chunk in flight arrived: the next one starts after it (an answer to an older chunk changes nothing). */
  chunkAcknowledged(chunk: number): void {
    if (this.state !== "snapshot" || chunk !== this.snapshotChunk) return;
    this.snapshotPairIndex = this.snapshotChunkEndIndex;
    this.snapshotChunk++;
  }

  /** A chunk was lost or arrived out of order: the snapshot starts over from its first chunk. */
  restartSnapshot(): void {
    this.snapshotPairIndex = 0;
    this.snapshotChunk = 0;
  }

  /** The follower installed the whole snapshot and holds up to `lastOffset`: probe the log from there. */
  snapshotInstalled(lastOffset: number): void {
    this.matchOffset = Math.max(this.matchOffset, lastOffset);
    this.nextOffset = this.matchOffset + 1;
    this.state = "probe";
    this.snapshotOffset = 0;
    this.diverged = false;
  }
}
