import { assert } from "./assert.ts";
import { txnChars } from "./txn.ts";
import type { Entry } from "./types.ts";

/**
 * The leader's ordered log. Offsets have no holes. Entries before `firstOffset` may be dropped
 * (retention, in O(1) amortized: a head index, compacted now and then); `lastOffset` never goes
 * back. A recovered leader's log starts after the state it recovered.
 */
export class Log {
  #entries: Entry[] = [];
  /** Index in `#entries` of the entry at `#firstOffset`. */
  #head = 0;
  #firstOffset: number;
  /** Epoch of the entry just before `firstOffset` (in the state, or dropped); 0 at the start. */
  #epochBefore: number;

  constructor(firstOffset = 1, epochBefore = 0) {
    assert(Number.isInteger(firstOffset) && firstOffset >= 1, "log starts at a positive offset");
    this.#firstOffset = firstOffset;
    this.#epochBefore = epochBefore;
  }

  get firstOffset(): number {
    return this.#firstOffset;
  }

  get lastOffset(): number {
    return this.#firstOffset + this.length - 1;
  }

  get length(): number {
    return this.#entries.length - this.#head;
  }

  /** Appends a write; `condition` makes it conditional (ifOffset) or a transaction (txn, key "" and no value). */
  append(epoch: number, key: string, value: string | null, condition?: Pick<Entry, "ifOffset" | "txn">): Entry {
    const entry: Entry = condition ? { offset: this.lastOffset + 1, epoch, key, value, ...condition } : { offset: this.lastOffset + 1, epoch, key, value };
    this.#entries.push(entry);
    return entry;
  }

  /** Appends an entry recovered from a follower, keeping its offset and epoch. */
  appendRecovered(entry: Entry): void {
    assert(entry.offset === this.lastOffset + 1, `recovered entry ${entry.offset} after ${this.lastOffset}`);
    this.#entries.push(entry);
  }

  /** Epoch of the entry at `offset`, as far as the log knows: -1 for an offset dropped long ago. */
  epochAt(offset: number): number {
    if (offset === this.#firstOffset - 1) return this.#epochBefore;
    if (offset < this.#firstOffset - 1) return -1;
    return this.at(offset).epoch;
  }

  at(offset: number): Entry {
    const entry = this.#entries[this.#head + offset - this.#firstOffset];
    assert(entry !== undefined && entry.offset === offset, () => `offset ${offset} not in log`);
    return entry;
  }

  /**
   * Entries from `fromOffset` on: at most `countMax` of them and, past the first, at most
   * `charsMax` characters of keys and values in all.
   */
  slice(fromOffset: number, countMax: number, charsMax = Number.POSITIVE_INFINITY): Entry[] {
    assert(fromOffset >= this.#firstOffset, () => `offset ${fromOffset} was dropped from the log`);
    const start = this.#head + fromOffset - this.#firstOffset;
    const end = Math.min(start + countMax, this.#entries.length);
    let chars = 0;
    let stop = start;
    while (stop < end) {
      const entry = this.#entries[stop]!;
      chars += entry.key.length + (entry.value?.length ?? 0) + (entry.txn ? txnChars(entry.txn) : 0);
      if (chars > charsMax && stop > start) break;
      stop++;
    }
    return this.#entries.slice(start, stop);
  }

  /** Drops entries before `offset` (they are in the state machine; a follower that needs them gets a snapshot). */
  dropBefore(offset: number): void {
    const count = Math.min(offset - this.#firstOffset, this.length);
    if (count <= 0) return;
    this.#epochBefore = this.#entries[this.#head + count - 1]!.epoch;
    this.#head += count;
    this.#firstOffset += count;
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries = this.#entries.slice(this.#head);
      this.#head = 0;
    }
  }
}
