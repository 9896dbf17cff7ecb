import { electionQuorum, type grantsPreVote } from "../core/election.ts";
import { FollowerCore } from "../core/follower.ts";
import { type RecoveryPolicy, recoveryPolicy } from "../core/recovery.ts";
import type { ElectionFamily, ElectionInvariant } from "./election-sim.ts";

/** Promises an epoch it already promised: two candidates at one epoch may both win it. */
export class VoteTwiceFollower extends FollowerCore {
  override grantsVote(epoch: number): boolean {
    return epoch >= this.epoch;
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
} satisfies Record<string, ElectionMutant>;

export type ElectionMutantName = keyof typeof electionMutants;

export function isElectionMutantName(name: string): name is ElectionMutantName {
  return name in electionMutants;
}
