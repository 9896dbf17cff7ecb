import { electionQuorum, type grantsPreVote } from "../core/election.ts";
import { FollowerCore } from "../core/follower.ts";
import { LeaderCore, type LeaderOptions } from "../core/leader.ts";
import { type RecoveryPolicy, recoveryPolicy } from "../core/recovery.ts";
import type { ReplicateReply } from "../core/types.ts";
import type { ElectionFamily, ElectionInvariant } from "./election-sim.ts";

/** Promises an epoch it already promised: two candidates at one epoch may both win it. */
export class VoteTwiceFollower extends FollowerCore {
  override grantsVote(epoch: number): boolean {
    return epoch >= this.epoch;
  }
}

/**
 * Keeps serving after it learned of a newer epoch: a follower's stale_epoch answer neither deposes
 * it nor stops it counting that follower, which it takes as holding what it was sent. So it goes
 * on acknowledging writes and confirming reads with followers a newer leader already fenced.
 */
export class ServesAfterDeposedLeader extends LeaderCore {
  override onReply(index: number, reply: ReplicateReply, nowMs: number, sequence?: number): boolean {
    if (reply.kind !== "stale_epoch") return super.onReply(index, reply, nowMs, sequence);
    const progress = this.followers[index]!;
    return super.onReply(index, { kind: "ok", lastOffset: progress.nextOffset - 1, incarnation: progress.incarnation }, nowMs, sequence);
  }
}

/**
 * Deliberately broken election code for the election runs (src/sim/election-sim.ts), each with the
 * invariant it must break and the family of runs that shows it, as src/sim/mutants.ts for the others.
 */
export interface ElectionMutant {
  breaks: readonly ElectionInvariant[];
  description: string;
  family?: ElectionFamily;
  seedsTried: number;
  policy?: RecoveryPolicy;
  follower?: (incarnation: number) => FollowerCore;
  leader?: (options: LeaderOptions) => LeaderCore;
  grantsPreVote?: typeof grantsPreVote;
}

export const electionMutants = {
  "vote-twice": {
    breaks: ["one-leader-per-epoch", "committed-entries-agree", "acknowledged-write-lost", "linearizability"],
    description: "a node grants its vote again at an epoch it already promised",
    family: "chaos",
    seedsTried: 300,
    follower: (incarnation: number) => new VoteTwiceFollower(incarnation),
  },
  "election-quorum-one-short": {
    breaks: ["one-leader-per-epoch", "committed-entries-agree", "acknowledged-write-lost", "linearizability"],
    description: "an election needs one promise fewer than max(M − W, majority)",
    family: "chaos",
    seedsTried: 300,
    policy: { ...recoveryPolicy, electionQuorum: (nodes: number, writeQuorum: number) => electionQuorum(nodes, writeQuorum) - 1 },
  },
  "no-pre-vote-check": {
    breaks: ["healthy-leader-deposed"],
    description: "a node grants a pre-vote although it hears from its leader",
    family: "rejoin",
    seedsTried: 50,
    grantsPreVote: () => true,
  },
  "pre-vote-never-granted": {
    breaks: ["liveness"],
    description: "a node refuses every pre-vote, even when it hears no leader: no candidate ever stands",
    family: "chaos",
    seedsTried: 20,
    grantsPreVote: () => false,
  },
  "serves-after-deposed": {
    breaks: ["acknowledged-write-lost", "linearizability", "committed-entries-agree"],
    description: "a leader keeps acknowledging writes and confirming reads after a follower told it of a newer epoch",
    family: "chaos",
    // Seed 67 is the first that shows it on the merged tree.
    seedsTried: 80,
    leader: (options: LeaderOptions) => new ServesAfterDeposedLeader(options),
  },
} satisfies Record<string, ElectionMutant>;

export type ElectionMutantName = keyof typeof electionMutants;

export function isElectionMutantName(name: string): name is ElectionMutantName {
  return name in electionMutants;
}
