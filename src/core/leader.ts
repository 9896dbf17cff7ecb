import { assert } from "./assert.ts";
import { constants } from "./constants.ts";
import { Log } from "./log.ts";
import { FollowerProgress } from "./progress.ts";
import { ackCount, commitOffset } from "./quorum.ts";
import { StateMachine } from "./state-machine.ts";
import type { Entry, ReplicateMessage, ReplicateReply } from "./types.ts";

export interface LeaderOptions {
  id: string;
  epoch: number;
  followerCount: number;
  writeQuorum: number;
}

/**
 * The leader's replication decisions, without I/O: it orders writes in the log, decides what
 * each follower is sent next, learns from replies, and advances the commit offset. The caller
 * sends the messages it returns and reports each reply or failure back, with the time.
 */
export class LeaderCore {
  readonly id: string;
  readonly epoch: number;
  readonly log = new Log();
  readonly state = new StateMachine();
  readonly followers: FollowerProgress[];
  #writeQuorum: number;
  #commitOffset = 0;

  constructor(options: LeaderOptions) {
    assert(options.followerCount >= 0 && options.followerCount <= constants.followersMax, "follower count");
    this.id = options.id;
    this.epoch = options.epoch;
    this.followers = Array.from({ length: options.followerCount }, () => new FollowerProgress());
    this.#writeQuorum = 0;
    this.setWriteQuorum(options.writeQuorum);
  }

  get writeQuorum(): number {
    return this.#writeQuorum;
  }

  get commitOffset(): number {
    return this.#commitOffset;
  }

  get lastOffset(): number {
    return this.log.lastOffset;
  }

  setWriteQuorum(quorum: number): void {
    assert(Number.isInteger(quorum) && quorum >= 0 && quorum <= this.followers.length, `write quorum ${quorum}`);
    this.#writeQuorum = quorum;
    this.#advanceCommit();
  }

  /** Appends a write (value null = delete) and returns its entry; it is not visible until committed. */
  propose(key: string, value: string | null): Entry {
    const entry = this.log.append(this.epoch, key, value);
    this.#advanceCommit();
    return entry;
  }

  /** Followers holding `offset`. */
  ackCount(offset: number): number {
    return ackCount(this.matchOffsets(), offset);
  }

  matchOffsets(): number[] {
    return this.followers.map((follower) => follower.matchOffset);
  }

  /**
   * The messages follower `index` should be sent now: new entries (pipelined, in batches), or a
   * heartbeat when it has been idle for `heartbeatMs` or has not yet heard the latest commit.
   */
  takeMessages(index: number, nowMs: number, heartbeatMs: number): ReplicateMessage[] {
    const progress = this.#progress(index);
    const messages: ReplicateMessage[] = [];
    while (progress.canSend(nowMs) && progress.nextOffset <= this.log.lastOffset) {
      const entries = this.log.slice(progress.nextOffset, constants.batchEntriesMax, constants.batchCharsMax);
      messages.push(this.#message(progress, progress.nextOffset - 1, entries, nowMs));
      progress.nextOffset += entries.length;
    }
    const idle = nowMs - progress.lastSentAtMs >= heartbeatMs;
    const commitUnannounced = progress.lastSentCommitOffset < this.#commitOffset && progress.inflightMessages === 0;
    if (messages.length === 0 && progress.canSend(nowMs) && (idle || commitUnannounced)) {
      messages.push(this.#message(progress, Math.min(progress.matchOffset, progress.nextOffset - 1), [], nowMs));
    }
    return messages;
  }

  /** A reply to one message. Returns true when the commit offset advanced. */
  onReply(index: number, reply: ReplicateReply, nowMs: number): boolean {
    const progress = this.#progress(index);
    progress.inflightMessages = Math.max(0, progress.inflightMessages - 1);
    progress.lastReplyAtMs = nowMs;
    switch (reply.kind) {
      case "ok":
        assert(reply.lastOffset <= this.log.lastOffset, `follower ${index} acked ${reply.lastOffset} beyond the log`);
        progress.matchOffset = Math.max(progress.matchOffset, reply.lastOffset);
        progress.nextOffset = Math.max(progress.nextOffset, progress.matchOffset + 1);
        progress.state = "streaming";
        break;
      case "gap":
        // The follower holds less than we thought (it restarted, or a message was lost):
        // resend from its own offset, one message at a time until it answers ok.
        progress.matchOffset = Math.min(progress.matchOffset, reply.lastOffset);
        progress.nextOffset = reply.lastOffset + 1;
        progress.state = "probe";
        progress.partialResyncs++;
        break;
      case "stale_epoch":
        // A newer leader exists; this one keeps answering but makes no progress with this follower.
        progress.pausedUntilMs = Number.POSITIVE_INFINITY;
        break;
    }
    const before = this.#commitOffset;
    this.#advanceCommit();
    return this.#commitOffset > before;
  }

  /** A message was lost (network error or timeout): back off, then resend from the acked offset. */
  onFailure(index: number, nowMs: number): void {
    const progress = this.#progress(index);
    progress.inflightMessages = Math.max(0, progress.inflightMessages - 1);
    progress.state = "probe";
    progress.nextOffset = progress.matchOffset + 1;
    progress.pausedUntilMs = nowMs + constants.retryBackoffMs;
  }

  #message(progress: FollowerProgress, prevOffset: number, entries: Entry[], nowMs: number): ReplicateMessage {
    progress.inflightMessages++;
    progress.lastSentAtMs = nowMs;
    progress.lastSentCommitOffset = this.#commitOffset;
    return { epoch: this.epoch, leaderId: this.id, prevOffset, entries, commitOffset: this.#commitOffset };
  }

  #progress(index: number): FollowerProgress {
    const progress = this.followers[index];
    assert(progress !== undefined, `no follower ${index}`);
    return progress;
  }

  #advanceCommit(): void {
    const offset = commitOffset(this.matchOffsets(), this.#writeQuorum, this.log.lastOffset);
    if (offset <= this.#commitOffset) return;
    this.#commitOffset = offset;
    for (let next = this.state.appliedOffset + 1; next <= offset; next++) this.state.apply(this.log.at(next));
  }
}
