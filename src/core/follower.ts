import { assert } from "./assert.ts";
import { StateMachine } from "./state-machine.ts";
import type { Entry, ReplicateMessage, ReplicateReply } from "./types.ts";

/**
 * A follower's replication decisions, without I/O. Entries are appended strictly in offset order
 * whatever order messages arrive in; duplicates are ignored; a message that starts beyond the
 * follower's last offset is a gap (the caller may wait for the earlier message and offer it again).
 * Entries become visible (applied to the state) only up to the leader's commit offset.
 */
export class FollowerCore {
  readonly state = new StateMachine();
  /** Newest leader epoch seen; older leaders are refused. */
  epoch = 0;
  leaderId: string | null = null;
  /** Appended but not yet committed entries, in offset order. */
  #pending: Entry[] = [];
  #lastOffset = 0;
  /** Highest commit offset the leader announced. */
  #knownCommitOffset = 0;

  get lastOffset(): number {
    return this.#lastOffset;
  }

  get commitOffset(): number {
    return Math.min(this.#knownCommitOffset, this.#lastOffset);
  }

  get appliedOffset(): number {
    return this.state.appliedOffset;
  }

  receive(message: ReplicateMessage): ReplicateReply {
    if (message.epoch < this.epoch) return { kind: "stale_epoch", epoch: this.epoch };
    this.epoch = message.epoch;
    this.leaderId = message.leaderId;
    if (message.prevOffset > this.#lastOffset) return { kind: "gap", lastOffset: this.#lastOffset };
    let expected = message.prevOffset + 1;
    for (const entry of message.entries) {
      assert(entry.offset === expected, `entry ${entry.offset} where ${expected} was expected`);
      expected++;
      if (entry.offset <= this.#lastOffset) continue; // a duplicate
      this.#pending.push(entry);
      this.#lastOffset = entry.offset;
    }
    this.#knownCommitOffset = Math.max(this.#knownCommitOffset, message.commitOffset);
    this.#applyCommitted();
    return { kind: "ok", lastOffset: this.#lastOffset };
  }

  #applyCommitted(): void {
    const commit = this.commitOffset;
    let applied = 0;
    while (applied < this.#pending.length && this.#pending[applied]!.offset <= commit) {
      this.state.apply(this.#pending[applied]!);
      applied++;
    }
    if (applied > 0) this.#pending.splice(0, applied);
  }
}
