import { assert } from "./assert.ts";
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

/** The next integer epoch above every epoch seen (epochs never come from a clock). */
export function nextEpoch(positions: readonly FollowerPosition[], floor = 0): number {
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
}

export const recoveryPolicy: RecoveryPolicy = { rank: mostAdvanced, takePendingEntries: true, checksSource: true, fences: true };

export interface Recovered {
  state: StateMachine;
  entries: Entry[];
  from: string;
}

/**
 * What the recovering leader does next: ask every follower for its position (fencing it at
 * `fenceEpoch`, or only reading it when null), wait and ask again, fetch the most advanced
 * follower's data, or lead at `epoch`.
 */
export type RecoveryStep =
  | { kind: "poll"; fenceEpoch: number | null }
  | { kind: "retry"; reason: string }
  | { kind: "fetch"; from: FollowerPosition }
  | { kind: "done"; epoch: number; recovered?: Recovered };

/**
 * The decisions of a (re)starting leader's recovery, without I/O (src/node/recovery.ts runs them):
 * 1. Fence: every follower asked for its position first adopts the new epoch, so once enough of
 *    them answered, an old leader that still runs (paused, not dead) can no longer gather a
 *    write quorum. A follower that already saw this epoch or a newer one makes us fence above it.
 * 2. Hear from `fenceQuorum` followers: every acknowledged write is then held by one of them.
 * 3. Take over the most advanced one's state and log, checking that what arrives still reaches
 *    the position it was chosen for (it may have restarted empty in between), else start over.
 * A leader never wipes or forks what its followers hold.
 */
export class RecoveryCore {
  readonly needed: number;
  #epoch = 1;

  constructor(
    readonly followerCount: number,
    readonly writeQuorum: number,
    readonly policy: RecoveryPolicy = recoveryPolicy,
  ) {
    this.needed = fenceQuorum(followerCount, writeQuorum);
  }

  get epoch(): number {
    return this.#epoch;
  }

  poll(): RecoveryStep {
    return { kind: "poll", fenceEpoch: this.policy.fences ? this.#epoch : null };
  }

  /**
   * The positions one round heard (in follower order). `asyncGiveUp`: asynchronous replication
   * promises nothing about unreplicated writes, so after a bound recovery goes on with fewer.
   */
  afterRound(positions: readonly FollowerPosition[], asyncGiveUp: boolean): RecoveryStep {
    if (this.policy.fences && positions.some((position) => position.epoch >= this.#epoch)) {
      this.#epoch = nextEpoch(positions, this.#epoch);
      return this.poll();
    }
    if (positions.length < this.needed && !asyncGiveUp) return { kind: "retry", reason: `${positions.length} of the ${this.needed} followers needed answered` };
    if (!this.policy.fences) this.#epoch = nextEpoch(positions, this.#epoch);
    const best = this.policy.rank(positions);
    if (!best || best.lastOffset === 0) return { kind: "done", epoch: this.#epoch };
    return { kind: "fetch", from: best };
  }

  /** The data fetched from `from` (null: the fetch failed). */
  afterFetch(from: FollowerPosition, data: RecoveryData | null): RecoveryStep {
    if (!data) return { kind: "retry", reason: `fetching ${from.url}'s data failed` };
    if (this.policy.checksSource && !reaches(data, from)) {
      return { kind: "retry", reason: `${from.url} no longer holds what it reported (it restarted?)` };
    }
    const state = StateMachine.restore(data.appliedOffset, data.appliedEpoch, data.pairs);
    const entries = this.policy.takePendingEntries ? data.entries : [];
    return { kind: "done", epoch: this.#epoch, recovered: { state, entries, from: from.url } };
  }
}
