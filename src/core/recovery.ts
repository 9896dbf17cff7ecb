import { assert } from "./assert.ts";
import { constants } from "./constants.ts";
import { electionQuorum } from "./election.ts";
import { StateMachine } from "./state-machine.ts";
import type { Entry, RecoveryData } from "./types.ts";

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
  /** The write quorum in force at the last leader it heard (ReplicateMessage.writeQuorum); absent or null: unknown. */
  writeQuorum?: number | null;
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
 * Followers a restarting leader fences before it leads: the recovery quorum, and at least a
 * majority. A follower adopts a fence epoch once, so two leaders fencing at one epoch cannot both
 * win a majority: epochs (max seen + 1, no clock) stay unique to one leader.
 */
export function fenceQuorum(followerCount: number, writeQuorum: number): number {
  if (followerCount === 0) return 0;
  return Math.max(recoveryQuorum(followerCount, writeQuorum), Math.floor(followerCount / 2) + 1);
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

/** Whether the data fetched holds at least the log the follower reported when it was chosen. */
export function reaches(data: RecoveryData, position: FollowerPosition): boolean {
  const lastOffset = data.appliedOffset + data.entries.length;
  const lastEntryEpoch = data.entries.at(-1)?.epoch ?? data.appliedEpoch;
  if (lastEntryEpoch !== position.lastEntryEpoch) return lastEntryEpoch > position.lastEntryEpoch;
  return lastOffset >= position.lastOffset;
}

/** The choices of recovery; the simulator's mutants change one each (src/sim/mutants.ts). */
export interface RecoveryPolicy {
  /** Picks the follower whose state and log the new leader takes over. */
  rank(positions: readonly FollowerPosition[]): FollowerPosition | null;
  /** Whether the new leader takes the entries held beyond the applied state, not only the state. */
  takePendingEntries: boolean;
  /** Whether recovery starts over when the data fetched falls short of the position ranked (`reaches`). */
  checksSource: boolean;
  /** Whether position requests carry the new epoch, which followers adopt before they answer. */
  fences: boolean;
  /** Whether the answers needed follow the lowest write quorum a follower reported (a quorum lowered at run time), not only the configured one. */
  honoursQuorumFloor: boolean;
  /** Promises an election needs among `nodeCount` peers, the candidate included (core/election.ts). */
  electionQuorum(nodeCount: number, writeQuorum: number): number;
  /** Whether a fetch that failed or fell short goes on with the next most advanced follower that answered, not a new round of fences. */
  triesNextSource: boolean;
}

export const recoveryPolicy: RecoveryPolicy = {
  rank: mostAdvanced,
  takePendingEntries: true,
  checksSource: true,
  fences: true,
  honoursQuorumFloor: true,
  electionQuorum,
  triesNextSource: true,
};

/**
 * An election is a recovery run by one of the voters (DESIGN §9): every peer, the candidate
 * included, is asked (the candidate answers itself), the quorum is the election's, it starts at
 * `startEpoch` (above the candidate's own), and it never goes on with fewer answers than that.
 */
export interface ElectionRun {
  startEpoch: number;
  /** POST /admin/promote: lead with whoever answers, the candidate alone if need be (lossy, like Kafka's unclean leader election). */
  forced?: boolean;
}

export interface Recovered {
  state: StateMachine;
  entries: Entry[];
  from: string;
}

/**
 * What the recovering leader does next: ask every follower for its position (fencing it at
 * `fenceEpoch`, or only reading it when null), wait and ask again, fetch a follower's data, lead
 * at `epoch`, or give up (`failed`, after recoveryRoundsMax rounds).
 */
export type RecoveryStep =
  | { kind: "poll"; fenceEpoch: number | null }
  | { kind: "retry"; reason: string }
  | { kind: "fetch"; from: FollowerPosition }
  | { kind: "done"; epoch: number; recovered?: Recovered; writeQuorumFloor: number; writeQuorum: number | null; candidates: FollowerPosition[] }
  | { kind: "failed"; reason: string };

/**
 * The decisions of a (re)starting leader's recovery, without I/O (src/node/recovery.ts runs them):
 * 1. Fence: every follower asked for its position first adopts the new epoch, so once enough of
 *    them answered, an old leader that still runs (paused, not dead) can no longer gather a
 *    write quorum. Epochs are integers: one that a follower already saw makes us fence again
 *    above the highest seen.
 * 2. Hear from `fenceQuorum` followers for the lowest write quorum any of them reports (a quorum
 *    lowered at run time): every acknowledged write is then held by one of them.
 * 3. Take over the most advanced one's state and log, checking that what arrives still reaches
 *    the position it was chosen for (it may have restarted empty in between). If its data does
 *    not arrive, or no longer reaches, go on with the next most advanced as long as the others
 *    that answered are still enough; else fence again.
 * A leader never wipes or forks what its followers hold.
 */
export class RecoveryCore {
  #epoch = 1;
  /** The lowest write quorum any follower reported in any round. */
  #lowestQuorum: number;
  #rounds = 0;
  /** The followers of the last round not yet tried as the source, and whether fewer may do. */
  #candidates: FollowerPosition[] = [];
  #asyncGiveUp = false;
  /** The restarting leader's own stored log, ranked with the followers' but not counted among them. */
  #own: FollowerPosition | null = null;

  constructor(
    readonly followerCount: number,
    readonly writeQuorum: number,
    readonly policy: RecoveryPolicy = recoveryPolicy,
    readonly roundsMax: number = constants.recoveryRoundsMax,
    readonly election: ElectionRun | null = null,
  ) {
    this.#lowestQuorum = writeQuorum;
    if (election) this.#epoch = Math.max(1, election.startEpoch);
  }

  get epoch(): number {
    return this.#epoch;
  }

  /**
   * The leader's own stored log (DATA_DIR) is a candidate too: entries it stored may have been
   * acknowledged (in asynchronous mode, by nobody else). It never replaces a follower's answer.
   * The epoch it promised is one the new epoch must be above too, as every follower's: its log
   * may hold entries of it that no follower that answers still knows of (a wiped follower).
   */
  considerOwn(position: FollowerPosition): void {
    this.#epoch = Math.max(this.#epoch, position.epoch + 1);
    if (position.lastOffset > 0) this.#own = position;
  }

  /** Followers whose answers are needed now. */
  get needed(): number {
    const writeQuorum = this.policy.honoursQuorumFloor ? this.#lowestQuorum : this.writeQuorum;
    if (!this.election) return fenceQuorum(this.followerCount, writeQuorum);
    if (this.election.forced) return 1;
    return this.policy.electionQuorum(this.followerCount, writeQuorum);
  }

  get lowestQuorum(): number {
    return this.#lowestQuorum;
  }

  poll(): RecoveryStep {
    if (this.#rounds >= this.roundsMax) {
      return { kind: "failed", reason: `recovery gave up after ${this.roundsMax} rounds without enough followers (see the lines above)` };
    }
    this.#rounds++;
    return { kind: "poll", fenceEpoch: this.policy.fences ? this.#epoch : null };
  }

  /**
   * The positions one round heard (in follower order). `elapsedMs` since recovery started:
   * asynchronous replication promises nothing about unreplicated writes, so after `asyncWaitMs`
   * recovery goes on with fewer.
   */
  afterRound(positions: readonly FollowerPosition[], elapsedMs: number, asyncWaitMs: number): RecoveryStep {
    this.#lowestQuorum = recoveryWriteQuorum(this.#lowestQuorum, positions);
    if (this.policy.fences && positions.some((position) => position.epoch >= this.#epoch)) {
      this.#epoch = nextEpoch(positions, this.#epoch);
      return this.poll();
    }
    this.#asyncGiveUp = !this.election && this.#lowestQuorum === 0 && elapsedMs > asyncWaitMs;
    if (positions.length < this.needed && !this.#asyncGiveUp) {
      const why = this.#lowestQuorum < this.writeQuorum ? ` (a write quorum as low as ${this.#lowestQuorum} may have acknowledged entries they hold)` : "";
      return { kind: "retry", reason: `waiting for followers, ${positions.length} of the ${this.needed} needed answered${why}` };
    }
    if (!this.policy.fences) this.#epoch = nextEpoch(positions, this.#epoch);
    this.#candidates = this.#own ? [...positions, this.#own] : [...positions];
    return this.#next();
  }

  /** The data fetched from `from` (a reason when the fetch failed). */
  afterFetch(from: FollowerPosition, data: RecoveryData | string): RecoveryStep {
    if (typeof data !== "string" && (!this.policy.checksSource || reaches(data, from))) {
      const state = StateMachine.restore(data.appliedOffset, data.appliedEpoch, data.pairs);
      const entries = this.policy.takePendingEntries ? data.entries : [];
      return {
        kind: "done",
        epoch: this.#epoch,
        recovered: { state, entries, from: from.url },
        writeQuorumFloor: this.#lowestQuorum,
        // W is replicated state: the one in force where the adopted log came from (null: unknown).
        writeQuorum: from.writeQuorum ?? null,
        candidates: [...this.#candidates],
      };
    }
    if (!this.policy.triesNextSource) return { kind: "retry", reason: `${from.url} no longer holds what it reported (it restarted?); starting over` };
    this.#candidates.splice(this.#candidates.indexOf(from), 1);
    return this.#next();
  }

  /** The most advanced candidate left, while the candidates are still enough. */
  #next(): RecoveryStep {
    const followersLeft = this.#candidates.filter((candidate) => candidate !== this.#own).length;
    if (followersLeft === 0 || (followersLeft < this.needed && !this.#asyncGiveUp)) {
      return { kind: "retry", reason: `the followers left (${followersLeft}) are fewer than the ${this.needed} needed; fencing again` };
    }
    const best = this.policy.rank(this.#candidates);
    if (!best || best.lastOffset === 0) {
      return {
        kind: "done",
        epoch: this.#epoch,
        writeQuorumFloor: this.#lowestQuorum,
        writeQuorum: best?.writeQuorum ?? null,
        candidates: [...this.#candidates],
      };
    }
    return { kind: "fetch", from: best };
  }
}
