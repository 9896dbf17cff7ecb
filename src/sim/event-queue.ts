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
  #heap: Scheduled[] = [];
  #sequence = 0;
  #nowUs = 0;

  get nowUs(): number {
    return this.#nowUs;
  }

  get size(): number {
    return this.#heap.length;
  }

  at(atUs: number, run: () => void): void {
    if (!Number.isInteger(atUs) || atUs < this.#nowUs) throw new RangeError(`cannot schedule at ${atUs} µs, now is ${this.#nowUs} µs`);
    this.#push({ atUs, sequence: this.#sequence++, run });
  }

  after(delayUs: number, run: () => void): void {
    this.at(this.#nowUs + delayUs, run);
  }

  /** Advances the clock to the earliest event and runs it; false when nothing is left. */
  runNext(): boolean {
    const next = this.#pop();
    if (!next) return false;
    this.#nowUs = next.atUs;
    next.run();
    return true;
  }

  #before(a: Scheduled, b: Scheduled): boolean {
    return a.atUs < b.atUs || (a.atUs === b.atUs && a.sequence < b.sequence);
  }

  #push(item: Scheduled): void {
    const heap = this.#heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(heap[i]!, heap[parent]!)) break;
      [heap[parent], heap[i]] = [heap[i]!, heap[parent]!];
      i = parent;
    }
  }

  #pop(): Scheduled | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let first = i;
      if (left < heap.length && this.#before(heap[left]!, heap[first]!)) first = left;
      if (right < heap.length && this.#before(heap[right]!, heap[first]!)) first = right;
      if (first === i) break;
      [heap[first], heap[i]] = [heap[i]!, heap[first]!];
      i = first;
    }
    return top;
  }
}
