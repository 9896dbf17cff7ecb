import { assert } from "./assert.ts";
import { type Hash64, hash64, hashToHex } from "./hash.ts";
import type { Entry, SnapshotPair } from "./types.ts";

export interface StoredValue {
  /** JSON text of the value. */
  value: string;
  /** Offset of the write that set it. */
  offset: number;
}

interface Slot extends StoredValue {
  hash: Hash64;
}

export interface Digest {
  appliedOffset: number;
  keys: number;
  digest: string;
}

/**
 * The replicated state: key → value, applied strictly in offset order, with an
 * order-independent digest (XOR of a 64-bit hash of key + value per key) kept up to date on
 * every apply so that two nodes compare in O(1).
 */
export class StateMachine {
  #slots = new Map<string, Slot>();
  #digestHigh = 0;
  #digestLow = 0;
  #appliedOffset = 0;
  /** Epoch of the entry at `appliedOffset` (0 before any): how up to date this state is. */
  #appliedEpoch = 0;

  get appliedOffset(): number {
    return this.#appliedOffset;
  }

  get appliedEpoch(): number {
    return this.#appliedEpoch;
  }

  get size(): number {
    return this.#slots.size;
  }

  get(key: string): StoredValue | undefined {
    return this.#slots.get(key);
  }

  apply(entry: Entry): void {
    assert(entry.offset === this.#appliedOffset + 1, `apply ${entry.offset} after ${this.#appliedOffset}`);
    this.#appliedOffset = entry.offset;
    this.#appliedEpoch = entry.epoch;
    const previous = this.#slots.get(entry.key);
    if (previous) this.#toggle(previous.hash);
    if (entry.value === null) {
      this.#slots.delete(entry.key);
      return;
    }
    const hash = hash64(entry.key + "\u0000" + entry.value);
    this.#toggle(hash);
    this.#slots.set(entry.key, { value: entry.value, offset: entry.offset, hash });
  }

  /** Every pair as snapshot tuples, copied now (a consistent cut at `appliedOffset`). */
  snapshotPairs(): SnapshotPair[] {
    const pairs: SnapshotPair[] = [];
    for (const [key, slot] of this.#slots) pairs.push([key, slot.value, slot.offset]);
    return pairs;
  }

  /** A state rebuilt from snapshot pairs, as if every entry up to `appliedOffset` (of `appliedEpoch`) had been applied. */
  static restore(appliedOffset: number, appliedEpoch: number, pairs: Iterable<SnapshotPair>): StateMachine {
    const state = new StateMachine();
    for (const [key, value, offset] of pairs) {
      assert(offset <= appliedOffset, `pair ${key} at ${offset} is after the snapshot (${appliedOffset})`);
      assert(!state.#slots.has(key), `key ${key} twice in a snapshot`);
      const hash = hash64(key + "\u0000" + value);
      state.#toggle(hash);
      state.#slots.set(key, { value, offset, hash });
    }
    state.#appliedOffset = appliedOffset;
    state.#appliedEpoch = appliedEpoch;
    return state;
  }

  digest(): Digest {
    return {
      appliedOffset: this.#appliedOffset,
      keys: this.#slots.size,
      digest: hashToHex({ high: this.#digestHigh, low: this.#digestLow }),
    };
  }

  /** Every pair, in insertion order; the caller may stream it. */
  *entries(): IterableIterator<[string, StoredValue]> {
    for (const [key, slot] of this.#slots) yield [key, { value: slot.value, offset: slot.offset }];
  }

  #toggle(hash: Hash64): void {
    this.#digestHigh = (this.#digestHigh ^ hash.high) >>> 0;
    this.#digestLow = (this.#digestLow ^ hash.low) >>> 0;
  }
}
