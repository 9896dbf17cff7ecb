import { assert } from "./assert.ts";
import { StateMachine } from "./state-machine.ts";
import type { Entry, ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotPair, SnapshotReply } from "./types.ts";

interface StagedSnapshot {
  snapshotOffset: number;
  nextChunk: number;
  pairs: SnapshotPair[];
}

/**
 * A follower's replication decisions, without I/O. Entries are appended strictly in offset order
 * whatever order messages arrive in; duplicates are ignored; a message that starts beyond the
 * follower's last offset is a gap (the caller may wait for the earlier message and offer it again).
 * Entries become visible (applied to the state) only up to the leader's commit offset.
 *
 * Epochs: a message from an older epoch is refused. On first contact with a newer epoch the
 * follower drops its uncommitted entries (a recovered leader resends what it kept), so every
 * entry it holds afterwards came from the current leader. Committed entries are never dropped.
 */
export class FollowerCore {
  #state = new StateMachine();
  /** Newest leader epoch seen; older leaders are refused. */
  epoch = 0;
  leaderId: string | null = null;
  /** Appended but not yet committed entries, in offset order. */
  #pending: Entry[] = [];
  #lastOffset = 0;
  /** Highest commit offset the current epoch's leader announced. */
  #knownCommitOffset = 0;
  #staged: StagedSnapshot | null = null;
  /** Snapshots installed (full resyncs). */
  snapshotsInstalled = 0;

  get state(): StateMachine {
    return this.#state;
  }

  get lastOffset(): number {
    return this.#lastOffset;
  }

  get commitOffset(): number {
    return Math.min(this.#knownCommitOffset, this.#lastOffset);
  }

  get appliedOffset(): number {
    return this.#state.appliedOffset;
  }

  /** Held but uncommitted entries (for a restarting leader's recovery). */
  pendingEntries(): Entry[] {
    return this.#pending.slice();
  }

  receive(message: ReplicateMessage): ReplicateReply {
    if (message.epoch < this.epoch) return { kind: "stale_epoch", epoch: this.epoch };
    this.#enterEpoch(message.epoch, message.leaderId);
    if (message.prevOffset > this.#lastOffset) return { kind: "gap", lastOffset: this.#lastOffset };
    let expected = message.prevOffset + 1;
    for (const entry of message.entries) {
      assert(entry.offset === expected, `entry ${entry.offset} where ${expected} was expected`);
      expected++;
      if (entry.offset <= this.#lastOffset) continue; // a duplicate
      this.#pending.push(entry);
      this.#lastOffset = entry.offset;
    }
    this.#learnCommit(message.commitOffset);
    return { kind: "ok", lastOffset: this.#lastOffset };
  }

  /** Chunks of a snapshot, in order; the last one replaces the state. */
  receiveSnapshot(chunk: SnapshotChunk): SnapshotReply {
    if (chunk.epoch < this.epoch) return { kind: "stale_epoch", epoch: this.epoch };
    this.#enterEpoch(chunk.epoch, chunk.leaderId);
    if (chunk.chunk === 0) this.#staged = { snapshotOffset: chunk.snapshotOffset, nextChunk: 0, pairs: [] };
    const staged = this.#staged;
    if (!staged || staged.snapshotOffset !== chunk.snapshotOffset || staged.nextChunk !== chunk.chunk) {
      this.#staged = null;
      return { kind: "gap", lastOffset: this.#lastOffset };
    }
    for (const pair of chunk.pairs) staged.pairs.push(pair);
    staged.nextChunk++;
    if (!chunk.done) return { kind: "chunk_ok", chunk: chunk.chunk };
    this.#staged = null;
    if (chunk.snapshotOffset > this.#state.appliedOffset) {
      // The snapshot is committed state, so it supersedes everything held up to its offset.
      this.#state = StateMachine.restore(chunk.snapshotOffset, staged.pairs);
      this.#pending = [];
      this.#lastOffset = chunk.snapshotOffset;
      this.snapshotsInstalled++;
    }
    this.#learnCommit(chunk.commitOffset);
    return { kind: "ok", lastOffset: this.#lastOffset };
  }

  #enterEpoch(epoch: number, leaderId: string): void {
    this.leaderId = leaderId;
    if (epoch === this.epoch) return;
    this.epoch = epoch;
    this.#pending = [];
    this.#lastOffset = this.#state.appliedOffset;
    this.#knownCommitOffset = this.#state.appliedOffset;
    this.#staged = null;
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
