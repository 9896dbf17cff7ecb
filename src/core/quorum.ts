import { assert } from "./assert.ts";

/**
 * The highest offset held by at least `quorum` followers: the quorum-th largest match offset.
 * Quorum 0 is asynchronous replication: everything the leader holds counts as committed.
 */
export function commitOffset(matchOffsets: readonly number[], quorum: number, leaderLastOffset: number): number {
  assert(Number.isInteger(quorum) && quorum >= 0 && quorum <= matchOffsets.length, () => `quorum ${quorum} out of range`);
  if (quorum === 0) return leaderLastOffset;
  // The highest offset at least `quorum` followers hold, found without copying and sorting (it
  // runs on every reply): with a few followers, counting holders per candidate is cheaper.
  let held = Number.NEGATIVE_INFINITY;
  for (const candidate of matchOffsets) {
    if (candidate <= held) continue;
    let holders = 0;
    for (const match of matchOffsets) if (match >= candidate) holders++;
    if (holders >= quorum) held = candidate;
  }
  return Math.min(held, leaderLastOffset);
}

/** How many followers hold `offset`. */
export function ackCount(matchOffsets: readonly number[], offset: number): number {
  let count = 0;
  for (const match of matchOffsets) if (match >= offset) count++;
  return count;
}
