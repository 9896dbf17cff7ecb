import { MinHeap } from "../core/min-heap.ts";

/**
 * The simulator's agenda: callbacks ordered by virtual time in integer microseconds, ties broken
 * by insertion order so that a run never depends on heap internals.
 */
export interface Scheduled {
  atUs: number;
  sequence: number;
  run: () => void;
  cancelled: boolean;
}

export class EventQueue {
  // Ties go by insertion order, so that a run never depends on heap internals.
  #heap = new MinHeap<Scheduled>((a, b) => a.atUs < b.atUs || (a.atUs === b.atUs && a.sequence < b.sequence));
  #sequence = 0;
  #nowUs = 0;

  get nowUs(): number {
    return this.#nowUs;
  }

  get size(): number {
    return this.#heap.size;
  }

  at(atUs: number, run: () => void): Scheduled {
    if (!Number.isInteger(atUs) || atUs < this.#nowUs) throw new RangeError(`cannot schedule at ${atUs} µs, now is ${this.#nowUs} µs`);
    const scheduled = { atUs, sequence: this.#sequence++, run, cancelled: false };
    this.#heap.push(scheduled);
    return scheduled;
  }

  after(delayUs: number, run: () => void): Scheduled {
    return this.at(this.#nowUs + delayUs, run);
  }

  /** A cancelled event is skipped (it stays in the heap until its time, uncounted). */
  cancel(scheduled: Scheduled): void {
    scheduled.cancelled = true;
  }

  /** Advances the clock to the earliest event not cancelled and runs it; false when nothing is left. */
  runNext(): boolean {
    for (let next = this.#heap.pop(); next; next = this.#heap.pop()) {
      if (next.cancelled) continue;
      this.#nowUs = next.atUs;
      next.run();
      return true;
    }
    return false;
  }
}
