import type { grantsPreVote } from "../core/election.ts";
import type { FollowerCore } from "../core/follower.ts";
import type { LeaderCore, LeaderOptions } from "../core/leader.ts";
import type { RecoveryPolicy } from "../core/recovery.ts";
import type { Delays } from "./env.ts";
import type { FollowerEnv } from "./follower-node.ts";
import type { ElectionObserver, NodeObserver } from "./metrics.ts";
import type { PeerRpc } from "./peer-transport.ts";
import type { Transport } from "./transport.ts";

/** Rounds of fencing one election tries before the candidate goes back to following (a later timeout tries again). */
export const electionRoundsMax = 3;

/** ROLE=leader keeps asking for pre-votes this many election timeouts after it started, while its peers start too (they wait that long before they stand). */
export const standNowTimeouts = 4;

/** What a node among PEERS runs on: production's in src/main.ts, simulated ones in src/sim. */
export interface PeerEnv extends Pick<FollowerEnv, "clock" | "timers" | "random" | "storage" | "stored" | "log" | "timings"> {
  /** A transport for one election and the leadership it may bring (closed when that ends). */
  newTransport(): Transport;
  newDelays(): Delays;
  rpc: PeerRpc;
  observer?: NodeObserver;
  /** Told of each election stood in (metrics). */
  elections?: ElectionObserver;
  /** The simulator's mutants pass broken ones. */
  policy?: RecoveryPolicy;
  newFollowerCore?: (incarnation: number) => FollowerCore;
  newLeaderCore?: (options: LeaderOptions) => LeaderCore;
  grantsPreVote?: typeof grantsPreVote;
}

export type PeerRole = "follower" | "candidate" | "leader";

/** Why a write is not taken here: 421 with the leader, or 503 no_leader. */
export type WriteRefusal = { kind: "not_leader"; leader: string } | { kind: "no_leader"; reason: string };

export type StandOutcome = { kind: "leading"; epoch: number } | { kind: "failed"; reason: string };
