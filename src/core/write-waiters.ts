/** A client write waiting to be answered. `settled` is set once it was answered either way. */
export interface WriteWaiter {
  offset: number;
  /** Followers that must hold it: max(per-request quorum, WRITE_QUORUM). */
  required: number;
  settled: boolean;
}

/**
 * Writes waiting for their answer, in offset order. A write is ready once committed and held by
 * `required` followers; those whose request asked for more than WRITE_QUORUM may stay after
 * commit and are checked on every change. Timeouts belong to the caller, who marks them settled.
 */
export class WriteWaiters<Waiter extends WriteWaiter> {
  #waiting: Waiter[] = [];
  #elevated: Waiter[] = [];

  /** Waiters held, settled ones included until taken out: what the caller bounds. */
  get size(): number {
    return this.#waiting.length + this.#elevated.length;
  }

  add(waiter: Waiter): void {
    this.#waiting.push(waiter);
  }

  /** Every waiter not yet settled, marked settled, and none left (a deposed leader answers them all). */
  takeAll(): Waiter[] {
    const all = [...this.#waiting, ...this.#elevated].filter((waiter) => !waiter.settled);
    this.#waiting = [];
    this.#elevated = [];
    for (const waiter of all) waiter.settled = true;
    return all;
  }

  /** The waiters now ready, marked settled, in offset order (elevated ones after). */
  takeReady(commitOffset: number, ackCount: (offset: number) => number): Waiter[] {
    const ready: Waiter[] = [];
    let done = 0;
    for (const waiter of this.#waiting) {
      if (waiter.offset > commitOffset) break;
      done++;
      if (waiter.settled) continue;
      if (ackCount(waiter.offset) >= waiter.required) ready.push(waiter);
      else this.#elevated.push(waiter);
    }
    if (done > 0) this.#waiting.splice(0, done);
    if (this.#elevated.length > 0) {
      this.#elevated = this.#elevated.filter((waiter) => {
        if (!waiter.settled && ackCount(waiter.offset) >= waiter.required) ready.push(waiter);
        return !waiter.settled && !ready.includes(waiter);
      });
    }
    for (const waiter of ready) waiter.settled = true;
    return ready;
  }
}
