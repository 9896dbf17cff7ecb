import { assert } from "./assert.ts";
import { fenceQuorum } from "./recovery.ts";

/**
 * Followers whose answers, in this leader's epoch, to messages sent after a read arrived prove
 * that no newer leader had committed anything before the read: `N − F_min + 1`, where F_min is
 * the smallest set of followers any recovery fences before it leads (core/recovery.ts), so every
 * such set includes one that answered — and that one was fenced only after it answered.
 *
 * `writeQuorum` is the highest quorum a recovery may plan with: every leader of a cluster starts
 * with the configured WRITE_QUORUM, and a lower floor a follower reports only makes its fence
 * set larger (`fenceQuorum` grows as the quorum falls). A quorum of 0 (asynchronous mode, or a
 * floor lowered to 0) is the exception: after `asyncWaitMs` a recovery goes on with a single
 * answer, so a read must hear from every follower.
 */
export function readQuorum(followerCount: number, writeQuorum: number): number {
  assert(writeQuorum >= 0 && writeQuorum <= followerCount, "write quorum within the follower count");
  if (followerCount === 0) return 0;
  const smallestFence = writeQuorum === 0 ? 1 : fenceQuorum(followerCount, writeQuorum);
  return followerCount - smallestFence + 1;
}

interface Round {
  id: number;
  /** Each follower's message count when the round opened: only answers to later messages count. */
  sentFrom: number[];
  acked: Set<number>;
}

/**
 * Leadership confirmations for reads (Raft §6.4, etcd's ReadIndex), batched: every read that
 * arrives before the next message is sent joins the round already open, and one round of messages
 * (entries or heartbeats) confirms them all. A round is confirmed once `required` followers (the
 * leader's `readQuorum`, given with each call: a floor lowered to 0 raises it) answered, in this
 * epoch, a message sent after it opened. Rounds open in order and their
 * `sentFrom` only grow, so an answer that counts for a round counts for every older one:
 * confirmed rounds are always the oldest ones.
 */
export class ReadRounds {
  #rounds: Round[] = [];
  #nextId = 1;
  #confirmedId = 0;

  /** Rounds up to this id are confirmed. */
  get confirmedId(): number {
    return this.#confirmedId;
  }

  get pending(): number {
    return this.#rounds.length;
  }

  /** The round a read arriving now waits for: the newest if nothing was sent since it opened, else a new one. */
  open(sentCounts: readonly number[], required: number): number {
    const newest = this.#rounds.at(-1);
    if (newest && newest.sentFrom.every((count, index) => count === sentCounts[index])) return newest.id;
    const id = this.#nextId++;
    if (required === 0) this.#confirmedId = id;
    else this.#rounds.push({ id, sentFrom: [...sentCounts], acked: new Set() });
    return id;
  }

  /**
   * Whether follower `index` must be sent a message (a heartbeat if nothing else) for the newest
   * round: it has not answered one, and none was sent since the round opened, or all of those
   * failed (`inflight` 0).
   */
  wantsMessage(index: number, sentCount: number, inflight: number): boolean {
    const newest = this.#rounds.at(-1);
    if (newest === undefined || newest.acked.has(index)) return false;
    return newest.sentFrom[index]! >= sentCount || inflight === 0;
  }

  /** Follower `index` answered message `sequence` in this epoch. */
  ack(index: number, sequence: number, required: number): void {
    let confirmed = 0;
    for (const round of this.#rounds) {
      if (round.sentFrom[index]! > sequence) break;
      round.acked.add(index);
      if (round.acked.size >= required) confirmed++;
    }
    if (confirmed === 0) return;
    this.#confirmedId = this.#rounds[confirmed - 1]!.id;
    this.#rounds.splice(0, confirmed);
  }

  /** Rounds that will never be confirmed (the leader was deposed or stops): dropped. */
  clear(): void {
    this.#rounds = [];
  }
}
