import { assert } from "./assert.ts";

/** What a follower reports to a restarting leader. */
export interface FollowerPosition {
  url: string;
  /** Newest leader epoch it has seen (the new epoch must be above every one). */
  epoch: number;
  lastOffset: number;
  /** Epoch of the entry at lastOffset: the log's recency. */
  lastEntryEpoch: number;
  appliedOffset: number;
  /** The smallest write quorum that may have acknowledged an entry it holds (see ReplicateMessage); absent or null: unknown. */
  writeQuorumFloor?: number | null;
}

/**
 * How many followers a restarting leader must hear from before it may pick the most advanced:
 * enough that every set of `writeQuorum` followers (which holds every acknowledged write)
 * includes one of them. Asynchronous replication (quorum 0) has no such set; it waits for all.
 */
export function recoveryQuorum(followerCount: number, writeQuorum: number): number {
  assert(writeQuorum >= 0 && writeQuorum <= followerCount, "write quorum within the follower count");
  if (followerCount === 0) return 0;
  return writeQuorum === 0 ? followerCount : followerCount - writeQuorum + 1;
}

/**
 * The write quorum a restarting leader must plan for: its own configured one, or lower when a
 * follower that answered reports that a lowered quorum may have acknowledged an entry it holds.
 * A lowered quorum takes effect only once the old quorum of followers heard of it (LeaderCore),
 * so any set of `recoveryQuorum(n, writeQuorum)` answers includes one that reports it.
 */
export function recoveryWriteQuorum(writeQuorum: number, positions: readonly FollowerPosition[]): number {
  let lowest = writeQuorum;
  for (const position of positions) {
    const floor = position.writeQuorumFloor;
    if (typeof floor === "number" && floor < lowest) lowest = floor;
  }
  return lowest;
}

/**
 * The follower whose log is the most up to date, as Raft compares logs: the newest epoch of the
 * last entry held first, then the longest. (The epoch a follower has merely *seen* says nothing
 * of what it holds.) Ties go to the first.
 */
export function mostAdvanced(positions: readonly FollowerPosition[]): FollowerPosition | null {
  let best: FollowerPosition | null = null;
  for (const position of positions) {
    const newer = !best || position.lastEntryEpoch > best.lastEntryEpoch;
    const longer = best && position.lastEntryEpoch === best.lastEntryEpoch && position.lastOffset > best.lastOffset;
    if (newer || longer) best = position;
  }
  return best;
}

/**
 * A new integer epoch above every epoch the followers reported, and at least `floor` (the epoch
 * last tried). Epochs never come from a clock (DESIGN §9): a clock stepped back would reuse one.
 */
export function nextEpoch(positions: readonly FollowerPosition[], floor: number): number {
  return Math.max(floor, ...positions.map((position) => position.epoch + 1), 1);
}
