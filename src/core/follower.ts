import { StateMachine } from "./state-machine.ts";
import type { Entry, ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotPair, SnapshotReply } from "./types.ts";

interface StagedSnapshot {
  snapshotOffset: number;
  nextChunk: number;
  pairs: SnapshotPair[];
  keys: Set<string>;
}

/**
 * A follower's replication decisions, without I/O. Entries are appended strictly in offset order
 * whatever order messages arrive in; a message that starts beyond the follower's last offset is a
 * gap (the caller may wait for the earlier message and offer it again). Entries become visible
 * (applied to the state) only up to the leader's commit offset.
 *
 * Epochs, as Raft's log matching: a message from an older epoch is refused. A message says the
 * epoch of the leader's entry just before its entries; where the follower holds a different one,
 * its unverified entries are dropped and the leader re-sends. An entry that differs from one the
 * leader sends at the same offset is replaced with everything after it. Only entries verified
 * against the current leader's log are ever applied, so a stale entry of an older epoch never
 * becomes visible. Committed entries are never dropped.
 */
export class FollowerCore {
  #state = new StateMachine();
  /** Newest leader epoch seen; older leaders are refused. */
  epoch = 0;
  leaderId: string | null = null;
  /** Appended but not yet applied entries: offsets appliedOffset+1 … lastOffset. */
  #pending: Entry[] = [];
  #lastOffset = 0;
  /** Highest offset known to match the current epoch's leader's log. */
  #verifiedOffset = 0;
  /** Highest commit offset the current epoch's leader announced. */
  #knownCommitOffset = 0;
  #staged: StagedSnapshot | null = null;
  /** Snapshots installed (full resyncs). */
  snapshotsInstalled = 0;
  /**
   * The smallest write quorum that may have acknowledged an entry held here (see
   * ReplicateMessage.writeQuorumFloor), reported to a restarting leader; null until a leader said.
   * Kept across a fence, so a leader that dies while recovering leaves it for the next one.
   */
  #writeQuorumFloor: number | null = null;
  /** Commit offset of the message that set the floor: only a later commit may raise it (messages reorder). */
  #floorCommitOffset = -1;

  /** `incarnation` tells this run of the process from earlier ones (the node passes its start time). */
  constructor(readonly incarnation = 0) {}

  get state(): StateMachine {
    return this.#state;
  }

  get lastOffset(): number {
    return this.#lastOffset;
  }

  /** Epoch of the last entry held: with lastOffset, how up to date this log is (for a restarting leader). */
  get lastEntryEpoch(): number {
    return this.#pending.at(-1)?.epoch ?? this.#state.appliedEpoch;
  }

  get commitOffset(): number {
    return Math.min(this.#knownCommitOffset, this.#verifiedOffset);
  }

  get appliedOffset(): number {
    return this.#state.appliedOffset;
  }

  get writeQuorumFloor(): number | null {
    return this.#writeQuorumFloor;
  }

  /** Held but unapplied entries (for a restarting leader's recovery). */
  pendingEntries(): Entry[] {
    return this.#pending.slice();
  }

  receive(message: ReplicateMessage): ReplicateReply {
    if (message.epoch < this.epoch) return { kind: "stale_epoch", epoch: this.epoch };
    this.#enterEpoch(message.epoch, message.leaderId);
    if (message.writeQuorumFloor !== undefined) this.#learnWriteQuorumFloor(message.writeQuorumFloor, message.commitOffset);
    if (message.prevOffset > this.#lastOffset) return this.#gap();
    if (message.prevOffset > this.appliedOffset && this.#heldAt(message.prevOffset).epoch !== message.prevEpoch) {
      // Our log and the leader's differ at or before prevOffset: keep only what is verified.
      this.#truncateAfter(this.#verifiedOffset);
      return this.#gap();
    }
    let offset = message.prevOffset;
    for (const entry of message.entries) {
      offset++;
      if (entry.offset !== offset) return this.#gap(); // malformed: refuse rather than guess
      if (offset <= this.appliedOffset) continue;
      if (offset <= this.#lastOffset) {
        if (this.#heldAt(offset).epoch === entry.epoch) continue; // the same entry again
        this.#truncateAfter(offset - 1);
      }
      this.#pending.push(entry);
      this.#lastOffset = offset;
    }
    this.#verifiedOffset = Math.max(this.#verifiedOffset, offset);
    this.#learnCommit(message.commitOffset);
    return { kind: "ok", lastOffset: this.#verifiedOffset, incarnation: this.incarnation };
  }

  /** Chunks of a snapshot, in order; the last one replaces the state. */
  receiveSnapshot(chunk: SnapshotChunk): SnapshotReply {
    if (chunk.epoch < this.epoch) return { kind: "stale_epoch", epoch: this.epoch };
    this.#enterEpoch(chunk.epoch, chunk.leaderId);
    if (chunk.chunk === 0) this.#staged = { snapshotOffset: chunk.snapshotOffset, nextChunk: 0, pairs: [], keys: new Set() };
    const staged = this.#staged;
    if (!staged || staged.snapshotOffset !== chunk.snapshotOffset || staged.nextChunk !== chunk.chunk) {
      this.#staged = null;
      return { kind: "gap", lastOffset: this.#lastOffset, incarnation: this.incarnation };
    }
    for (const pair of chunk.pairs) {
      // A key twice, or a pair newer than the snapshot, is no state: start over rather than restore it.
      if (staged.keys.has(pair[0]) || pair[2] > chunk.snapshotOffset) {
        this.#staged = null;
        return { kind: "gap", lastOffset: this.#lastOffset, incarnation: this.incarnation };
      }
      staged.keys.add(pair[0]);
      staged.pairs.push(pair);
    }
    staged.nextChunk++;
    if (!chunk.done) return { kind: "chunk_ok", chunk: chunk.chunk, incarnation: this.incarnation };
    this.#staged = null;
    if (chunk.snapshotOffset > this.#state.appliedOffset) {
      // The snapshot is committed state, so it supersedes everything held up to its offset.
      this.#state = StateMachine.restore(chunk.snapshotOffset, chunk.snapshotEpoch, staged.pairs);
      this.#pending = [];
      this.#lastOffset = chunk.snapshotOffset;
      this.#verifiedOffset = chunk.snapshotOffset;
      this.snapshotsInstalled++;
    }
    this.#learnCommit(chunk.commitOffset);
    return { kind: "ok", lastOffset: this.#verifiedOffset, incarnation: this.incarnation };
  }

  #gap(): ReplicateReply {
    return { kind: "gap", lastOffset: this.#lastOffset, incarnation: this.incarnation };
  }

  #heldAt(offset: number): Entry {
    return this.#pending[offset - this.appliedOffset - 1]!;
  }

  #truncateAfter(offset: number): void {
    if (offset >= this.#lastOffset) return;
    this.#pending.length = Math.max(0, offset - this.appliedOffset);
    this.#lastOffset = Math.max(offset, this.appliedOffset);
    this.#verifiedOffset = Math.min(this.#verifiedOffset, this.#lastOffset);
  }

  /** A newer leader: nothing beyond the applied state is verified against its log yet. */
  #enterEpoch(epoch: number, leaderId: string): void {
    this.leaderId = leaderId;
    if (epoch === this.epoch) return;
    this.epoch = epoch;
    this.#verifiedOffset = this.#state.appliedOffset;
    this.#knownCommitOffset = this.#state.appliedOffset;
    this.#staged = null;
    // The new leader's first message replaces the floor (it carries what that leader recovered).
    this.#floorCommitOffset = -1;
  }

  /**
   * A lower floor is taken at once; a higher one only from a message with a later commit offset,
   * so a message sent before the quorum was lowered, arriving late, cannot raise it again.
   */
  #learnWriteQuorumFloor(floor: number, commitOffset: number): void {
    if (this.#writeQuorumFloor === null || floor < this.#writeQuorumFloor || commitOffset > this.#floorCommitOffset) {
      this.#writeQuorumFloor = floor;
      this.#floorCommitOffset = commitOffset;
    }
  }

  #learnCommit(commitOffset: number): void {
    this.#knownCommitOffset = Math.max(this.#knownCommitOffset, commitOffset);
    const commit = this.commitOffset;
    let applied = 0;
    while (applied < this.#pending.length && this.#pending[applied]!.offset <= commit) {
      this.#state.apply(this.#pending[applied]!);
      applied++;
    }
    if (applied > 0) this.#pending.splice(0, applied);
  }
}
