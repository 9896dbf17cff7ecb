import { FollowerCore } from "../core/follower.ts";
import type { ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotReply } from "../core/types.ts";

/**
 * Deliberately broken followers, each a small subclass of the real one, so the tests can show
 * that the simulator catches the bug. Nothing outside src/sim and test/sim uses them.
 */

/** Appends a message that starts beyond its log as if nothing were missing (the lab's bug). */
export class GapIgnoringFollower extends FollowerCore {
  override receive(message: ReplicateMessage): ReplicateReply {
    const shift = message.prevOffset - this.lastOffset;
    if (message.epoch < this.epoch || shift <= 0) return super.receive(message);
    const entries = message.entries.map((entry) => ({ ...entry, offset: entry.offset - shift }));
    return super.receive({ ...message, prevOffset: this.lastOffset, prevEpoch: this.lastEntryEpoch, entries });
  }
}

/** Applies entries that arrive ahead of a gap at once, in arrival order. */
export class ArrivalOrderFollower extends FollowerCore {
  override receive(message: ReplicateMessage): ReplicateReply {
    const reply = super.receive(message);
    if (reply.kind !== "gap") return reply;
    for (const entry of message.entries) this.state.apply(entry);
    return { kind: "ok", lastOffset: this.lastOffset, incarnation: this.incarnation };
  }
}

/** Takes every message as coming from the current leader, whatever its epoch. */
export class EpochBlindFollower extends FollowerCore {
  override receive(message: ReplicateMessage): ReplicateReply {
    return super.receive({ ...message, epoch: Math.max(message.epoch, this.epoch) });
  }
}

/** Applies what it receives without waiting for the leader's commit. */
export class EagerApplyFollower extends FollowerCore {
  override receive(message: ReplicateMessage): ReplicateReply {
    const carriedOffset = message.prevOffset + message.entries.length;
    return super.receive({ ...message, commitOffset: Math.max(message.commitOffset, carriedOffset) });
  }
}

/** Reports the commit offset of the latest message rather than the highest it has seen. */
export class ForgetfulCommitFollower extends FollowerCore {
  #announcedCommitOffset = 0;

  override receive(message: ReplicateMessage): ReplicateReply {
    const reply = super.receive(message);
    if (reply.kind !== "stale_epoch") this.#announcedCommitOffset = message.commitOffset;
    return reply;
  }

  override get commitOffset(): number {
    return Math.min(this.#announcedCommitOffset, this.lastOffset);
  }
}

/** Loses the last key of every snapshot chunk it installs. */
export class SnapshotTruncatingFollower extends FollowerCore {
  override receiveSnapshot(chunk: SnapshotChunk): SnapshotReply {
    return super.receiveSnapshot({ ...chunk, pairs: chunk.pairs.slice(0, -1) });
  }
}

/**
 * Takes what it applied as verified under any leader, as followers did before issue 11: the
 * leader's epochs at or below its applied offset are never compared, so a follower that applied
 * writes a new leader lacks (a lossy asynchronous recovery) answers ok, is counted, and serves reads.
 */
export class AppliedTrustingFollower extends FollowerCore {
  override receive(message: ReplicateMessage): ReplicateReply {
    const applied = this.appliedOffset;
    const prevEpoch = message.prevOffset <= applied ? -1 : message.prevEpoch;
    const entries = message.entries.map((entry) => (entry.offset <= applied ? { ...entry, epoch: -1 } : entry));
    return super.receive({ ...message, prevEpoch, entries });
  }
}
