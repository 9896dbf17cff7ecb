import { assert } from "./assert.ts";

/**
 * The highest offset held by at least `quorum` followers: the quorum-th largest match offset.
 * Quorum 0 is asynchronous replication: everything the leader holds counts as committed.
 */
export function commitOffset(matchOffsets: readonly number[], quorum: number, leaderLastOffset: number): number {
  assert(Number.isInteger(quorum) && quorum >= 0 && quorum <= matchOffsets.length, () => `quorum ${quorum} out of range`);
  if (quorum === 0) return leaderLastOffset;
  const sorted = [...matchOffsets].sort((a, b) => b - a);
  return Math.min(sorted[quorum - 1]!, leaderLastOffset);
}

/** How many followers hold `offset`. */
export function ackCount(matchOffsets: readonly number[], offset: number): number {
  let count = 0;
  for (const match of matchOffsets) if (match >= offset) count++;
  return count;
}
