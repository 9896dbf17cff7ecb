import { assert } from "./assert.ts";
import type { Entry } from "./types.ts";

/**
 * The leader's ordered log. Offsets start at 1 and have no holes. Entries before `firstOffset`
 * may be dropped (retention); `lastOffset` never goes back.
 */
export class Log {
  #entries: Entry[] = [];
  /** Offset of `#entries[0]`. */
  #firstOffset = 1;

  get firstOffset(): number {
    return this.#firstOffset;
  }

  get lastOffset(): number {
    return this.#firstOffset + this.#entries.length - 1;
  }

  get length(): number {
    return this.#entries.length;
  }

  append(epoch: number, key: string, value: string | null): Entry {
    const entry: Entry = { offset: this.lastOffset + 1, epoch, key, value };
    this.#entries.push(entry);
    return entry;
  }

  at(offset: number): Entry {
    const entry = this.#entries[offset - this.#firstOffset];
    assert(entry !== undefined && entry.offset === offset, `offset ${offset} not in log`);
    return entry;
  }

  /**
   * Entries from `fromOffset` on: at most `countMax` of them and, past the first, at most
   * `charsMax` characters of keys and values in all.
   */
  slice(fromOffset: number, countMax: number, charsMax = Number.POSITIVE_INFINITY): Entry[] {
    assert(fromOffset >= this.#firstOffset, `offset ${fromOffset} was dropped from the log`);
    const start = fromOffset - this.#firstOffset;
    const end = Math.min(start + countMax, this.#entries.length);
    let chars = 0;
    let stop = start;
    while (stop < end) {
      const entry = this.#entries[stop]!;
      chars += entry.key.length + (entry.value?.length ?? 0);
      if (chars > charsMax && stop > start) break;
      stop++;
    }
    return this.#entries.slice(start, stop);
  }

  /** Drops entries before `offset` (they are in the state machine and no follower needs them). */
  dropBefore(offset: number): void {
    const count = Math.min(offset - this.#firstOffset, this.#entries.length);
    if (count <= 0) return;
    this.#entries.splice(0, count);
    this.#firstOffset += count;
  }
}
