import { assert } from "./assert.ts";

/** What a follower reports to a restarting leader. */
export interface FollowerPosition {
  url: string;
  epoch: number;
  lastOffset: number;
  appliedOffset: number;
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
 * The follower whose log is the most up to date: the newest epoch first (its log is a prefix of
 * that epoch's leader's log), then the longest. Ties go to the first.
 */
export function mostAdvanced(positions: readonly FollowerPosition[]): FollowerPosition | null {
  let best: FollowerPosition | null = null;
  for (const position of positions) {
    if (!best || position.epoch > best.epoch || (position.epoch === best.epoch && position.lastOffset > best.lastOffset)) {
      best = position;
    }
  }
  return best;
}

/** A new epoch above every epoch seen, and above `floor` (the node passes the clock, so a leader that restarts twice never reuses one). */
export function nextEpoch(positions: readonly FollowerPosition[], floor: number): number {
  return Math.max(floor, ...positions.map((position) => position.epoch + 1), 1);
}
