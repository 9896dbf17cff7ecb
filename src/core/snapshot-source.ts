import { constants } from "./constants.ts";
import type { FollowerProgress } from "./progress.ts";
import type { StateMachine } from "./state-machine.ts";
import type { SnapshotChunk, SnapshotPair } from "./types.ts";

export interface Snapshot {
  offset: number;
  epoch: number;
  pairs: SnapshotPair[];
}

/** The latest snapshot of the leader's committed state, shared by every follower that needs one while it is usable. */
export class SnapshotSource {
  #snapshot: Snapshot | null = null;

  /** A snapshot the log continues from (so the follower can stream after it), at `minOffset` or later; taken anew if needed. */
  usable(state: StateMachine, logFirstOffset: number, minOffset: number): Snapshot {
    if (!this.#snapshot || this.#snapshot.offset + 1 < logFirstOffset || this.#snapshot.offset < minOffset) {
      this.#snapshot = { offset: state.appliedOffset, epoch: state.appliedEpoch, pairs: state.snapshotPairs() };
    }
    return this.#snapshot;
  }
}

/**
 * The next chunk of `snapshot` for the follower of `progress` (starting over when the snapshot
 * changed), about batchCharsMax of keys and values; marks it in flight.
 */
export function nextChunk(
  progress: FollowerProgress,
  snapshot: Snapshot,
  from: { epoch: number; leaderId: string; commitOffset: number; nowMs: number },
): SnapshotChunk {
  if (progress.snapshotOffset !== snapshot.offset) {
    progress.snapshotOffset = snapshot.offset;
    progress.snapshotPairIndex = 0;
    progress.snapshotChunk = 0;
  }
  let end = progress.snapshotPairIndex;
  let chars = 0;
  while (end < snapshot.pairs.length && (end === progress.snapshotPairIndex || chars < constants.batchCharsMax)) {
    const [key, value] = snapshot.pairs[end]!;
    chars += key.length + value.length;
    end++;
  }
  progress.snapshotChunkEndIndex = end;
  progress.sentCount++;
  progress.inflightMessages++;
  progress.lastSentAtMs = from.nowMs;
  progress.lastSentCommitOffset = from.commitOffset;
  return {
    epoch: from.epoch,
    leaderId: from.leaderId,
    snapshotOffset: snapshot.offset,
    snapshotEpoch: snapshot.epoch,
    chunk: progress.snapshotChunk,
    pairs: snapshot.pairs.slice(progress.snapshotPairIndex, end),
    done: end === snapshot.pairs.length,
    commitOffset: from.commitOffset,
  };
}
