import { assert } from "./assert.ts";

/** One committed change of a key, as watchers see it: `value` is JSON text, null when deleted. */
export interface Change {
  key: string;
  value: string | null;
  offset: number;
}

/**
 * The last changes applied, in offset order (a ring), so watchers on any node can resume from an
 * offset without the log (followers hold none once applied): at most `capacity` changes and
 * `charsMax` characters of keys and values (the window keeps old values alive). A transaction's
 * changes share its offset; an entry that changes nothing (a failed condition, a marker) adds
 * none. Every change with an offset above `completeAfter` is held.
 */
export class ChangeWindow {
  readonly #keys: string[];
  readonly #values: (string | null)[];
  readonly #offsets: number[];
  /** Index of the oldest change held. */
  #start = 0;
  #length = 0;
  #chars = 0;
  #completeAfter: number;

  constructor(
    readonly capacity: number,
    readonly charsMax: number,
    appliedOffset: number,
  ) {
    assert(Number.isInteger(capacity) && capacity >= 1, "the change window holds at least one change");
    // Grown as changes come (a slot is never past the end): three arrays of `capacity` up front
    // cost every new state machine, a snapshot installed or a restart, 2.4 MB and most of the simulator's time.
    this.#keys = [];
    this.#values = [];
    this.#offsets = [];
    this.#completeAfter = appliedOffset;
  }

  /** Every change at an offset above this one is held (the offsets up to it may be partly gone). */
  get completeAfter(): number {
    return this.#completeAfter;
  }

  get length(): number {
    return this.#length;
  }

  push(key: string, value: string | null, offset: number): void {
    const chars = key.length + (value?.length ?? 0);
    while (this.#length > 0 && (this.#length === this.capacity || this.#chars + chars > this.charsMax)) this.#dropOldest();
    const slot = (this.#start + this.#length) % this.capacity;
    this.#length++;
    this.#chars += chars;
    this.#keys[slot] = key;
    this.#values[slot] = value;
    this.#offsets[slot] = offset;
  }

  #dropOldest(): void {
    const slot = this.#start;
    this.#completeAfter = this.#offsets[slot]!;
    this.#chars -= this.#keys[slot]!.length + (this.#values[slot]?.length ?? 0);
    this.#values[slot] = null;
    this.#start = (this.#start + 1) % this.capacity;
    this.#length--;
  }

  /**
   * Changes at offsets ≥ `fromOffset` (which must be above completeAfter), at most `countMax`,
   * but never part of one offset's changes: a batch ends at an offset boundary unless one
   * offset alone has more than `countMax` (then all of them).
   */
  from(fromOffset: number, countMax: number): Change[] {
    assert(fromOffset > this.#completeAfter, `changes from ${fromOffset} are no longer held`);
    const changes: Change[] = [];
    for (let index = this.#firstIndexFrom(fromOffset); index < this.#length; index++) {
      const offset = this.#offsetAt(index);
      if (changes.length >= countMax && offset !== changes.at(-1)!.offset) break;
      const slot = (this.#start + index) % this.capacity;
      changes.push({ key: this.#keys[slot]!, value: this.#values[slot]!, offset });
    }
    return changes;
  }

  /**
   * Whether a reader at `fromOffset` is in the oldest quarter of a window three quarters full
   * (of changes or characters): a watcher there is about to lose changes it has not read.
   */
  nearEviction(fromOffset: number): boolean {
    const full = this.#length > (this.capacity * 3) / 4 || this.#chars > (this.charsMax * 3) / 4;
    return full && this.#firstIndexFrom(fromOffset) < this.#length / 4;
  }

  #firstIndexFrom(fromOffset: number): number {
    let low = 0;
    let high = this.#length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#offsetAt(middle) < fromOffset) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #offsetAt(index: number): number {
    return this.#offsets[(this.#start + index) % this.capacity]!;
  }
}
