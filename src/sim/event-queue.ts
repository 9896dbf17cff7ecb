import { MinHeap } from "../core/min-heap.ts";

/**
 * The simulator's agenda: callbacks ordered by virtual time in integer microseconds, ties broken
 * by insertion order so that a run never depends on heap internals.
 */
interface Scheduled {
  atUs: number;
  sequence: number;
  run: () => void;
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

  at(atUs: number, run: () => void): void {
    if (!Number.isInteger(atUs) || atUs < this.#nowUs) throw new RangeError(`cannot schedule at ${atUs} µs, now is ${this.#nowUs} µs`);
    this.#heap.push({ atUs, sequence: this.#sequence++, run });
  }

  after(delayUs: number, run: () => void): void {
    this.at(this.#nowUs + delayUs, run);
  }

  /** Advances the clock to the earliest event and runs it; false when nothing is left. */
  runNext(): boolean {
    const next = this.#heap.pop();
    if (!next) return false;
    this.#nowUs = next.atUs;
    next.run();
    return true;
  }
}
