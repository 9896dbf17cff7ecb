import { assert } from "./assert.ts";
import { constants } from "./constants.ts";
import { Log } from "./log.ts";
import { FollowerProgress } from "./progress.ts";
import { ackCount, commitOffset } from "./quorum.ts";
import { ReadRounds, readQuorum } from "./read-index.ts";
import { takeReplyPosition } from "./reply-position.ts";
import { nextChunk, SnapshotSource } from "./snapshot-source.ts";
import { StateMachine } from "./state-machine.ts";
import { WriteQuorum } from "./write-quorum.ts";
import type { ApplyOutcome } from "./txn.ts";
import type { Entry, ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotReply } from "./types.ts";

export interface LeaderOptions {
  id: string;
  epoch: number;
  followerCount: number;
  writeQuorum: number;
  /** Log entries kept for catch-up; older ones are dropped once committed. */
  logRetention?: number;
  /** Uncommitted entries the log may hold (MAX_PENDING_WRITES): a leader without its quorum would grow at the write rate. */
  uncommittedEntriesMax?: number;
  /** What a restarting leader recovered from its most advanced follower. */
  recovered?: { state: StateMachine; entries: Entry[] };
  /** The lowest write quorum that may have acknowledged a recovered entry (default: writeQuorum). */
  writeQuorumFloor?: number;
  /** Commit only what the caller reported stored (`stored`): the leader's own log is durable before an entry commits. */
  commitsOnlyStored?: boolean;
}

/** The key of the entry a recovered leader appends to mark its epoch (client keys are never empty). */
export const epochMarkerKey = "";

/**
 * The leader's replication decisions, without I/O: it orders writes in the log, decides what
 * each follower is sent next, learns from replies, and advances the commit offset. The caller
 * sends the messages it returns and reports each reply or failure back, with the time.
 */
export class LeaderCore {
  readonly id: string;
  readonly epoch: number;
  readonly log: Log;
  readonly state: StateMachine;
  readonly followers: FollowerProgress[];
  readonly logRetention: number;
  readonly uncommittedEntriesMax: number;
  /** Reads on this leader wait until this offset is applied: everything it recovered is then committed. */
  readonly readBarrierOffset: number;
  readonly #quorum: WriteQuorum;
  /** The WRITE_QUORUM this leader started with: the highest a recovery may plan with (see readQuorum). */
  readonly #configuredQuorum: number;
  readonly #reads = new ReadRounds();
  #commitOffset: number;
  /** The newer epoch a follower reported (a stale_epoch answer), or null while this leader is not deposed. */
  #deposedBy: number | null = null;
  readonly #snapshots = new SnapshotSource();
  /** Entries up to here were handed out by `ready` to be stored. */
  #storedOffset: number;
  /** What conditional entries decided when applied, until the caller takes them (takeOutcomes). */
  #outcomes: { offset: number; outcome: ApplyOutcome }[] = [];
  /** Entries up to here are stored (reported by `stored`); the commit offset stays at or below it. */
  #durableOffset: number;

  constructor(options: LeaderOptions) {
    assert(options.followerCount >= 0 && options.followerCount <= constants.followersMax, "follower count");
    this.id = options.id;
    this.epoch = options.epoch;
    this.logRetention = options.logRetention ?? Number.POSITIVE_INFINITY;
    assert(this.logRetention >= 1, "log retention keeps at least one entry");
    this.uncommittedEntriesMax = options.uncommittedEntriesMax ?? Number.POSITIVE_INFINITY;
    assert(this.uncommittedEntriesMax >= 1, "at least one write may wait for its quorum");
    this.state = options.recovered?.state ?? new StateMachine();
    this.log = new Log(this.state.appliedOffset + 1, this.state.appliedEpoch);
    const recoveredEntries = options.recovered?.entries ?? [];
    for (const entry of recoveredEntries) this.log.appendRecovered(entry);
    // Entries of older epochs commit only together with one of this epoch (as in Raft), so a
    // leader that recovered some appends a marker of its own epoch at once; reads wait for it.
    if (recoveredEntries.length > 0) this.log.append(this.epoch, epochMarkerKey, null);
    this.readBarrierOffset = this.log.lastOffset;
    this.#storedOffset = this.state.appliedOffset;
    this.#durableOffset = options.commitsOnlyStored ? this.state.appliedOffset : Number.POSITIVE_INFINITY;
    this.#commitOffset = this.state.appliedOffset;
    this.followers = Array.from({ length: options.followerCount }, () => new FollowerProgress());
    for (const progress of this.followers) progress.nextOffset = this.log.lastOffset + 1;
    this.#assertQuorum(options.writeQuorum);
    this.#quorum = new WriteQuorum(options.writeQuorum, options.writeQuorumFloor);
    this.#configuredQuorum = options.writeQuorum;
    this.#advanceCommit();
  }

  /** The write quorum in force (a lowered one only once it took effect). */
  get writeQuorum(): number {
    return this.#quorum.inForce;
  }

  /** A lowered write quorum not yet in force, or null. */
  get pendingWriteQuorum(): number | null {
    return this.#quorum.pending;
  }

  /** The newer epoch that deposed this leader, or null. */
  get deposedBy(): number | null {
    return this.#deposedBy;
  }

  /** The smallest write quorum that may have acknowledged an entry not yet held by every follower. */
  get writeQuorumFloor(): number {
    return this.#quorum.floor;
  }

  get commitOffset(): number {
    return this.#commitOffset;
  }

  get lastOffset(): number {
    return this.log.lastOffset;
  }

  /**
   * Changes the write quorum (see WriteQuorum): raising takes effect at once; lowering appends a
   * marker entry (key "", no value) and takes effect once it commits under the current quorum.
   * Returns the marker when lowering (the caller may wait for it), else null.
   */
  setWriteQuorum(quorum: number): Entry | null {
    this.#assertQuorum(quorum);
    if (!this.#quorum.lowers(quorum)) {
      this.#quorum.raise(quorum);
      this.#advanceCommit();
      return null;
    }
    const marker = this.log.append(this.epoch, epochMarkerKey, null);
    this.#quorum.lowerAt(quorum, marker.offset);
    this.#advanceCommit();
    return marker;
  }

  /** Followers that must answer a round before a read is served (core/read-index.ts); a floor of 0 needs them all. */
  readQuorum(): number {
    return readQuorum(this.followers.length, this.#quorum.floor === 0 ? 0 : this.#configuredQuorum);
  }

  /** The confirmation round a read arriving now waits for (it reads at the current commit offset). */
  openRead(): number {
    return this.#reads.open(
      this.followers.map((progress) => progress.sentCount),
      this.readQuorum(),
    );
  }

  /** Reads of rounds up to this one may be served once the state applied their offsets. */
  get readsConfirmedRound(): number {
    return this.#reads.confirmedId;
  }

  /** Log entries not yet committed. */
  get uncommittedEntries(): number {
    return this.log.lastOffset - this.#commitOffset;
  }

  /** Whether a write may be appended now: not deposed, and below uncommittedEntriesMax. */
  canPropose(): boolean {
    return this.#deposedBy === null && this.uncommittedEntries < this.uncommittedEntriesMax;
  }

  /**
   * Appends a write (value null = delete) and returns its entry; it is not visible until
   * committed. A `condition` (ifOffset, or a txn) is decided when the entry is applied, in log
   * order: its outcome comes out of takeOutcomes then.
   */
  propose(key: string, value: string | null, condition?: Pick<Entry, "ifOffset" | "txn">): Entry {
    assert(this.#deposedBy === null, "a deposed leader takes no writes");
    assert(this.uncommittedEntries < this.uncommittedEntriesMax, "uncommitted entries within their bound");
    const entry = this.log.append(this.epoch, key, value, condition);
    this.#advanceCommit();
    return entry;
  }

  /** The outcomes of conditional entries applied since the last call, in offset order. */
  takeOutcomes(): { offset: number; outcome: ApplyOutcome }[] {
    const outcomes = this.#outcomes;
    if (outcomes.length > 0) this.#outcomes = [];
    return outcomes;
  }

  /** Followers holding `offset`. */
  ackCount(offset: number): number {
    return ackCount(this.matchOffsets(), offset);
  }

  matchOffsets(): number[] {
    return this.followers.map((follower) => follower.matchOffset);
  }

  /** Entries appended since the last call, for the caller to store (see leaderReady). */
  takeEntriesToStore(): Entry[] {
    if (this.#storedOffset >= this.log.lastOffset) return [];
    const from = Math.max(this.#storedOffset + 1, this.log.firstOffset);
    this.#storedOffset = this.log.lastOffset;
    return this.log.slice(from, this.log.lastOffset - from + 1);
  }

  /** The caller stored every entry up to `offset` (see commitsOnlyStored). Returns true when the commit offset advanced. */
  stored(offset: number): boolean {
    if (offset <= this.#durableOffset) return false;
    this.#durableOffset = offset;
    return this.#advanceCommitReporting();
  }

  /**
   * The messages follower `index` should be sent now: new entries (pipelined, in batches), or a
   * heartbeat when it has been idle for `heartbeatMs`, or has not heard the latest commit and its
   * link has been quiet for commitAnnounceQuietMs (commitAnnounceDueMs says when to call again).
   * A follower that needs entries the log dropped switches to snapshot (see takeSnapshotChunk).
   */
  takeMessages(index: number, nowMs: number, heartbeatMs: number): ReplicateMessage[] {
    const progress = this.#progress(index);
    if (progress.state !== "snapshot" && progress.nextOffset < this.log.firstOffset) {
      progress.startSnapshot(`needs offset ${progress.nextOffset}, log starts at ${this.log.firstOffset}`);
    }
    if (progress.state === "snapshot") return [];
    const messages: ReplicateMessage[] = [];
    while (progress.canSend(nowMs) && progress.nextOffset <= this.log.lastOffset) {
      const entries = this.log.slice(progress.nextOffset, constants.batchEntriesMax, constants.batchCharsMax);
      messages.push(this.#message(progress, progress.nextOffset - 1, entries, nowMs));
      progress.nextOffset += entries.length;
    }
    // A clock that stepped back (last send "in the future") counts as idle rather than silencing heartbeats.
    const idle = nowMs - progress.lastSentAtMs >= heartbeatMs || nowMs < progress.lastSentAtMs;
    const commitDue = progress.commitAnnounceDueMs(this.#commitOffset, constants.commitAnnounceQuietMs, nowMs) <= nowMs;
    const readRound = this.#reads.wantsMessage(index, progress.sentCount, progress.inflightMessages);
    if (messages.length === 0 && progress.canSend(nowMs) && (idle || commitDue || readRound)) {
      // A probe asks whether the follower's log matches at nextOffset - 1 (the leader's guess; a
      // follower behind answers gap with its own offset, a diverged one says so); a streaming
      // follower's heartbeat claims no more than it acknowledged, so it never waits on a gap.
      const prevOffset = progress.state === "probe" ? progress.nextOffset - 1 : Math.min(progress.matchOffset, progress.nextOffset - 1);
      messages.push(this.#message(progress, prevOffset, [], nowMs));
    }
    return messages;
  }

  /**
   * When takeMessages will next send a follower a commit no batch carried (+Infinity if none;
   * after a takeMessages at `nowMs`, always later): the caller must take messages again by then,
   * or a commit made as writes stop would reach the followers only with the next heartbeat.
   */
  commitAnnounceDueMs(nowMs: number): number {
    let dueMs = Number.POSITIVE_INFINITY;
    for (const progress of this.followers) {
      if (progress.state === "snapshot" || !progress.canSend(nowMs)) continue;
      dueMs = Math.min(dueMs, progress.commitAnnounceDueMs(this.#commitOffset, constants.commitAnnounceQuietMs, nowMs));
    }
    return dueMs;
  }

  /** The next snapshot chunk for a follower in snapshot state, one in flight at a time. */
  takeSnapshotChunk(index: number, nowMs: number): SnapshotChunk | null {
    const progress = this.#progress(index);
    if (progress.state !== "snapshot" || !progress.canSend(nowMs)) return null;
    if (progress.diverged && this.state.appliedOffset < progress.divergedAppliedOffset) return null;
    const snapshot = this.#snapshots.usable(this.state, this.log.firstOffset, progress.diverged ? progress.divergedAppliedOffset : 0);
    return nextChunk(progress, snapshot, { epoch: this.epoch, leaderId: this.id, commitOffset: this.#commitOffset, nowMs });
  }

  /**
   * A reply to one message; `sequence` is the message's (Outgoing.sequence; by default the latest
   * sent). Returns true when the commit offset advanced.
   */
  onReply(index: number, reply: ReplicateReply, nowMs: number, sequence = Number.MAX_SAFE_INTEGER): boolean {
    const progress = this.#progress(index);
    this.#settleOne(progress);
    progress.lastReplyAtMs = nowMs;
    // Any answer in this epoch, from whichever process, says the follower was not yet fenced by a newer leader.
    if (reply.kind !== "stale_epoch") this.#reads.ack(index, sequence, this.readQuorum());
    if (reply.kind !== "stale_epoch" && !progress.fromCurrentProcess(reply.incarnation, reply.kind === "ok" ? reply.lastOffset : 0, sequence)) {
      return this.#advanceCommitReporting();
    }
    if (progress.state === "snapshot" && reply.kind !== "stale_epoch") return false; // an old message; the snapshot decides
    if (reply.kind === "stale_epoch") this.#deposed(progress, reply.epoch);
    else takeReplyPosition(progress, reply, this.log.lastOffset);
    return this.#advanceCommitReporting();
  }

  /** A reply to a snapshot chunk. Returns true when the commit offset advanced. */
  onSnapshotReply(index: number, reply: SnapshotReply, nowMs: number, sequence = Number.MAX_SAFE_INTEGER): boolean {
    const progress = this.#progress(index);
    this.#settleOne(progress);
    progress.lastReplyAtMs = nowMs;
    // Any answer in this epoch, from whichever process, says the follower was not yet fenced by a newer leader.
    if (reply.kind !== "stale_epoch") this.#reads.ack(index, sequence, this.readQuorum());
    if (reply.kind !== "stale_epoch" && !progress.fromCurrentProcess(reply.incarnation, 0, sequence)) return this.#advanceCommitReporting();
    switch (reply.kind) {
      case "chunk_ok":
        progress.chunkAcknowledged(reply.chunk);
        return false;
      case "ok":
        progress.snapshotInstalled(reply.lastOffset);
        return this.#advanceCommitReporting();
      case "gap":
        progress.restartSnapshot();
        return false;
      case "stale_epoch":
        this.#deposed(progress, reply.epoch);
        return false;
    }
  }

  /** A message was lost (network error or timeout): back off, then resend from the acked offset. */
  onFailure(index: number, nowMs: number): void {
    const progress = this.#progress(index);
    this.#settleOne(progress);
    progress.pausedUntilMs = nowMs + constants.retryBackoffMs;
    if (progress.state === "snapshot") {
      progress.restartSnapshot();
      return;
    }
    progress.state = "probe";
    progress.nextOffset = progress.matchOffset + 1;
  }

  /**
   * A follower has seen a newer epoch: a newer leader fenced it, so this one may never commit
   * again and its state may be stale. It stops at once (the node refuses reads and writes).
   */
  #deposed(progress: FollowerProgress, epoch: number): void {
    progress.pausedUntilMs = Number.POSITIVE_INFINITY;
    if (epoch <= this.epoch) return;
    this.#deposedBy = Math.max(this.#deposedBy ?? 0, epoch);
    this.#reads.clear();
  }

  #message(progress: FollowerProgress, prevOffset: number, entries: Entry[], nowMs: number): ReplicateMessage {
    progress.sentCount++;
    progress.entriesSent += entries.length;
    progress.inflightMessages++;
    progress.lastSentAtMs = nowMs;
    progress.lastSentCommitOffset = this.#commitOffset;
    const prevEpoch = this.log.epochAt(prevOffset);
    const { floor: writeQuorumFloor, inForce: writeQuorum } = this.#quorum;
    return { epoch: this.epoch, leaderId: this.id, prevOffset, prevEpoch, entries, commitOffset: this.#commitOffset, writeQuorumFloor, writeQuorum };
  }

  #assertQuorum(quorum: number): void {
    assert(Number.isInteger(quorum) && quorum >= 0 && quorum <= this.followers.length, `write quorum ${quorum}`);
  }

  /** Every message sent is answered (a reply or a failure) exactly once: one fewer in flight. */
  #settleOne(progress: FollowerProgress): void {
    assert(progress.inflightMessages > 0, "an answer to a message in flight");
    progress.inflightMessages--;
  }

  #progress(index: number): FollowerProgress {
    const progress = this.followers[index];
    assert(progress !== undefined, () => `no follower ${index}`);
    return progress;
  }

  #advanceCommitReporting(): boolean {
    const before = this.#commitOffset;
    this.#advanceCommit();
    return this.#commitOffset > before;
  }

  #advanceCommit(): void {
    this.#advanceCommitAt(this.#quorum.inForce);
    if (this.#quorum.committed(this.#commitOffset)) this.#advanceCommitAt(this.#quorum.inForce);
    if (this.followers.every((follower) => follower.matchOffset >= this.log.lastOffset)) this.#quorum.heldEverywhere();
  }

  #advanceCommitAt(writeQuorum: number): void {
    const offset = commitOffset(this.matchOffsets(), writeQuorum, Math.min(this.log.lastOffset, this.#durableOffset));
    if (offset <= this.#commitOffset) return;
    // Counting followers commits only an entry of this epoch (older ones commit along with it):
    // a later leader might otherwise take over a log without an older entry counted here.
    if (writeQuorum > 0 && this.log.at(offset).epoch !== this.epoch) return;
    this.#commitOffset = offset;
    for (let next = this.state.appliedOffset + 1; next <= offset; next++) {
      const outcome = this.state.apply(this.log.at(next));
      if (outcome) this.#outcomes.push({ offset: next, outcome });
    }
    this.#enforceRetention();
  }

  /** Keeps at most `logRetention` entries; only committed ones are dropped (O(1), see Log). */
  #enforceRetention(): void {
    if (this.log.length <= this.logRetention) return;
    this.log.dropBefore(Math.min(this.#commitOffset + 1, this.log.lastOffset - this.logRetention + 1));
  }
}
