import { assert } from "./assert.ts";

/**
 * Elections among PEERS (DESIGN §9), without I/O: the quorum rule, the pre-vote and vote
 * decisions, and the randomised timeout. src/node/peer-node.ts runs them; the election itself
 * is the leader's recovery (core/recovery.ts) run over every peer, the candidate included.
 */

/**
 * Promises a candidate needs, itself included, with `nodeCount` nodes and write quorum
 * `writeQuorum` (the leader and that many followers hold every acknowledged write): M − W
 * (Flexible Paxos), so every election meets every write quorum and the most advanced log among
 * the voters holds every acknowledged write. At least a majority too, so two candidates can never
 * both win one epoch (each node promises an epoch once) and a minority never elects itself; that
 * floor costs no write availability, since it only binds when W ≥ M/2, where a write already
 * needs a majority of nodes alive. W = 0 (asynchronous): a write acknowledged by the leader alone
 * is held by it alone, so only every node, the old leader included, will do: once the leader is
 * gone the cluster waits for it (or for POST /admin/promote, lossy); a brand-new cluster, all
 * nodes up, still elects its first leader.
 */
export function electionQuorum(nodeCount: number, writeQuorum: number): number {
  assert(nodeCount >= 1 && writeQuorum >= 0 && writeQuorum < nodeCount, "write quorum below the node count");
  if (writeQuorum === 0) return nodeCount;
  return Math.max(nodeCount - writeQuorum, Math.floor(nodeCount / 2) + 1);
}

/** What a node knows when asked for a pre-vote. */
export interface PreVoteView {
  nowMs: number;
  /** When it last heard from a leader it follows (−∞: never). */
  lastLeaderContactMs: number;
  electionTimeoutMs: number;
  /** Whether it leads itself, not deposed: a healthy leader never helps unseat itself. */
  leads: boolean;
}

/**
 * Pre-vote (Raft §9.6): granted only by a node that has not heard from a leader within the
 * election timeout. A node that was cut off (or paused) and comes back finds the others still
 * hearing from the leader: it gathers no pre-votes, never raises its epoch, so never deposes it.
 */
export function grantsPreVote(view: PreVoteView): boolean {
  if (view.leads) return false;
  return view.nowMs - view.lastLeaderContactMs >= view.electionTimeoutMs;
}

/**
 * A vote is the promise of an epoch (a fence): granted once per epoch, only above every epoch
 * this node promised before (kept durable before it answers). Asked twice at one epoch, by two
 * candidates or one, it refuses the second time: two leaders can then never share an epoch.
 */
export function grantsVote(promisedEpoch: number, epoch: number): boolean {
  return epoch > promisedEpoch;
}

/**
 * Silence from the leader before a follower stands: the base, randomised up to twice it
 * (`randomFloat` uniform in [0, 1)), so that one follower usually stands before the others.
 */
export function electionTimeoutMs(baseMs: number, randomFloat: number): number {
  return baseMs * (1 + randomFloat);
}
