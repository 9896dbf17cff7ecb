import { assert } from "./assert.ts";
import { ChangeWindow } from "./change-window.ts";
import { hashToHex, pairHashHigh, pairHashLow } from "./hash.ts";
import { OrderedKeys } from "./ordered-keys.ts";
import type { ApplyOutcome, Txn, TxnOpResult } from "./txn.ts";
import type { Entry, SnapshotPair } from "./types.ts";

/** Changes the window keeps for watchers (WATCH_WINDOW_CHANGES), and characters of keys and values in them. */
export const watchWindowChanges = 100_000;
export const watchWindowCharsMax = 8 * 1024 * 1024;

export interface StoredValue {
  /** JSON text of the value. */
  value: string;
  /** Offset of the write that set it. */
  offset: number;
}

/** A key's value, with the two halves of its pair hash (hash.ts) to take it out of the digest again. */
interface Slot extends StoredValue {
  hashHigh: number;
  hashLow: number;
}

export interface Digest {
  appliedOffset: number;
  keys: number;
  digest: string;
}

/**
 * The replicated state: key → value, applied strictly in offset order, with an
 * order-independent digest (XOR of a 64-bit hash of key + value per key) kept up to date on
 * every apply so that two nodes compare in O(1), the keys in order (scans), and the last changes
 * (watchers). Conditional entries and transactions are decided here, at apply time, so every node
 * decides alike, in log order.
 */
export class StateMachine {
  #slots = new Map<string, Slot>();
  #ordered = new OrderedKeys();
  #changes: ChangeWindow;
  #digestHigh = 0;
  #digestLow = 0;
  #appliedOffset = 0;
  /** Epoch of the entry at `appliedOffset` (0 before any): how up to date this state is. */
  #appliedEpoch = 0;

  constructor(appliedOffset = 0) {
    this.#changes = new ChangeWindow(watchWindowChanges, watchWindowCharsMax, appliedOffset);
  }

  /** The last changes applied (read-only for callers). */
  get changes(): ChangeWindow {
    return this.#changes;
  }

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

  /** Up to `limit` keys from the first > `after` (or from the start), in key order, beginning with `prefix`. */
  scan(prefix: string, after: string | null, limit: number): [string, StoredValue][] {
    const pairs: [string, StoredValue][] = [];
    const start = after !== null && after >= prefix ? after : prefix;
    for (const key of this.#ordered.from(start, start === after)) {
      if (pairs.length >= limit || !key.startsWith(prefix)) break;
      const slot = this.#slots.get(key)!;
      pairs.push([key, { value: slot.value, offset: slot.offset }]);
    }
    return pairs;
  }

  /**
   * Applies the next entry. A plain write returns null; a conditional one or a transaction
   * returns what it decided, which depends only on the state before it: the same on every node.
   */
  apply(entry: Entry): ApplyOutcome | null {
    assert(entry.offset === this.#appliedOffset + 1, () => `apply ${entry.offset} after ${this.#appliedOffset}`);
    this.#appliedOffset = entry.offset;
    this.#appliedEpoch = entry.epoch;
    if (entry.txn) return this.#applyTxn(entry.txn, entry.offset);
    if (entry.ifOffset !== undefined) {
      const offset = this.#slots.get(entry.key)?.offset ?? 0;
      if (offset !== entry.ifOffset) return { kind: "precondition_failed", key: entry.key, offset };
      this.#write(entry.key, entry.value, entry.offset);
      return { kind: "written" };
    }
    // The epoch marker (key "") is no key: it changes nothing and no watcher hears of it.
    if (entry.key !== "") this.#write(entry.key, entry.value, entry.offset);
    return null;
  }

  #applyTxn(txn: Txn, offset: number): ApplyOutcome {
    const succeeded = txn.compare.every((compare) => (this.#slots.get(compare.key)?.offset ?? 0) === compare.offset);
    const results: TxnOpResult[] = [];
    for (const op of succeeded ? txn.success : txn.failure) {
      if (op.op === "get") {
        const slot = this.#slots.get(op.key);
        results.push(slot ? { op: "get", key: op.key, value: slot.value, offset: slot.offset } : { op: "get", key: op.key });
      } else if (op.op === "put") {
        this.#write(op.key, op.value, offset);
        results.push({ op: "put", key: op.key, offset });
      } else {
        const deleted = this.#slots.has(op.key);
        if (deleted) this.#write(op.key, null, offset);
        results.push({ op: "delete", key: op.key, deleted });
      }
    }
    return { kind: "txn", succeeded, results };
  }

  /** Sets (or, with null, deletes) one key at `offset`: map, order, digest and change window. Deleting no key changes nothing. */
  #write(key: string, value: string | null, offset: number): void {
    const previous = this.#slots.get(key);
    if (value === null && !previous) return;
    if (previous) this.#toggle(previous.hashHigh, previous.hashLow);
    if (value === null) {
      this.#slots.delete(key);
      this.#ordered.delete(key);
    } else {
      this.#put(key, value, offset);
      if (!previous) this.#ordered.insert(key);
    }
    this.#changes.push(key, value, offset);
  }

  /** Stores a key's value (the slot it had, if any, already taken out of the digest) and adds its pair hash to the digest. */
  #put(key: string, value: string, offset: number): void {
    const hashHigh = pairHashHigh(key, value);
    const hashLow = pairHashLow(key, value);
    this.#toggle(hashHigh, hashLow);
    this.#slots.set(key, { value, offset, hashHigh, hashLow });
  }

  /** Every pair as snapshot tuples, in key order, copied now (a consistent cut at `appliedOffset`). */
  snapshotPairs(): SnapshotPair[] {
    const pairs: SnapshotPair[] = [];
    for (const key of this.#ordered.from("")) {
      const slot = this.#slots.get(key)!;
      pairs.push([key, slot.value, slot.offset]);
    }
    return pairs;
  }

  /** A state rebuilt from snapshot pairs, as if every entry up to `appliedOffset` (of `appliedEpoch`) had been applied. */
  static restore(appliedOffset: number, appliedEpoch: number, pairs: Iterable<SnapshotPair>): StateMachine {
    const state = new StateMachine(appliedOffset);
    let count = 0;
    for (const [key, value, offset] of pairs) {
      assert(offset <= appliedOffset, () => `pair ${key} at ${offset} is after the snapshot (${appliedOffset})`);
      state.#put(key, value, offset);
      count++;
    }
    assert(state.#slots.size === count, `a key twice in a snapshot (${count} pairs, ${state.#slots.size} keys)`);
    // Snapshots list their pairs in key order (snapshotPairs): checking that is linear, sorting is not.
    const keys = [...state.#slots.keys()];
    state.#ordered = OrderedKeys.fromSorted(inOrder(keys) ? keys : keys.sort());
    state.#appliedOffset = appliedOffset;
    state.#appliedEpoch = appliedEpoch;
    return state;
  }

  digest(): Digest {
    return {
      appliedOffset: this.#appliedOffset,
      keys: this.#slots.size,
      digest: hashToHex(this.#digestHigh, this.#digestLow),
    };
  }

  /** Every pair, in insertion order; the caller may stream it. */
  *entries(): IterableIterator<[string, StoredValue]> {
    for (const [key, slot] of this.#slots) yield [key, { value: slot.value, offset: slot.offset }];
  }

  #toggle(high: number, low: number): void {
    this.#digestHigh = (this.#digestHigh ^ high) >>> 0;
    this.#digestLow = (this.#digestLow ^ low) >>> 0;
  }
}

function inOrder(keys: readonly string[]): boolean {
  for (let index = 1; index < keys.length; index++) if (keys[index - 1]! >= keys[index]!) return false;
  return true;
}
