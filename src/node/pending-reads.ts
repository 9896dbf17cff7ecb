import { constants } from "../core/constants.ts";
import type { TimerHandle, Timers } from "./env.ts";
import type { ReadConfirmation } from "./serving-node.ts";

/** A read waiting for its confirmation round: served at `readIndex`, the commit offset when it arrived. */
interface PendingRead {
  round: number;
  readIndex: number;
  done: (confirmation: ReadConfirmation) => void;
  timer: TimerHandle;
}

/**
 * The leader's reads waiting for their ReadIndex round (see LeaderNode.confirmRead), in the order
 * their rounds opened, at most offsetWatchersMax; each gives up after its wait.
 */
export class PendingReads {
  #reads: PendingRead[] = [];

  constructor(private readonly timers: Timers) {}

  get full(): boolean {
    return this.#reads.length >= constants.offsetWatchersMax;
  }

  /** Waits for `round`; answers `unconfirmed` after `waitMs` unless settled first. */
  add(round: number, readIndex: number, waitMs: number, done: (confirmation: ReadConfirmation) => void): void {
    const read: PendingRead = {
      round,
      readIndex,
      done,
      timer: this.timers.after(waitMs, () => {
        this.#reads = this.#reads.filter((pending) => pending !== read);
        done(unconfirmed(waitMs));
      }),
    };
    this.#reads.push(read);
  }

  /** Serves every read of rounds up to `round`. */
  confirmUpTo(round: number): void {
    for (const read of this.#take(round)) read.done({ kind: "confirmed", readIndex: read.readIndex });
  }

  /** Answers every waiting read with `confirmation` (the leader was deposed, or stops). */
  refuseAll(confirmation: ReadConfirmation = unconfirmed()): void {
    for (const read of this.#take(Number.POSITIVE_INFINITY)) read.done(confirmation);
  }

  /** Removes and returns the reads of rounds up to `round`, their timers cancelled. */
  #take(round: number): PendingRead[] {
    let count = 0;
    while (count < this.#reads.length && this.#reads[count]!.round <= round) count++;
    const taken = this.#reads.splice(0, count);
    for (const read of taken) this.timers.cancel(read.timer);
    return taken;
  }
}

function unconfirmed(waitMs?: number): ReadConfirmation {
  const within = waitMs === undefined ? "before it stopped" : `within ${waitMs} ms`;
  const message = `this leader could not confirm ${within} that it still leads (too few followers answered); retry, or read from the current leader`;
  return { kind: "refused", reason: "unconfirmed", message };
}
