import { assert } from "./assert.ts";

/** Keys per chunk at most; a chunk that grows past it splits in two. */
const chunkKeysMax = 512;

/**
 * The keys of the state in order (JavaScript string order: UTF-16 code units), for range scans.
 * A sorted list of sorted chunks (the layout of Python's sortedcontainers): an insert or delete
 * binary-searches the chunks' first keys, then the chunk, and moves at most `chunkKeysMax`
 * references; a seek is two binary searches; a scan then walks chunks in order. With n keys that
 * is O(log n + chunkKeysMax) per insert or delete and O(log n + k) for k keys scanned; only new
 * and deleted keys touch it (an overwrite does not). Splitting a chunk or dropping an empty one
 * moves n / chunkKeysMax references (2,000 for a million keys).
 */
export class OrderedKeys {
  #chunks: string[][] = [];
  /** First key of each chunk. */
  #firsts: string[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Keys already sorted, without duplicates (a snapshot's keys, sorted once). */
  static fromSorted(keys: readonly string[]): OrderedKeys {
    const ordered = new OrderedKeys();
    for (let start = 0; start < keys.length; start += chunkKeysMax / 2) {
      const chunk = keys.slice(start, start + chunkKeysMax / 2);
      ordered.#chunks.push(chunk);
      ordered.#firsts.push(chunk[0]!);
    }
    ordered.#size = keys.length;
    return ordered;
  }

  /** Adds a key not present (the caller knows: the state's map did not hold it). */
  insert(key: string): void {
    this.#size++;
    if (this.#chunks.length === 0) {
      this.#chunks.push([key]);
      this.#firsts.push(key);
      return;
    }
    const chunkIndex = Math.max(0, this.#chunkFor(key));
    const chunk = this.#chunks[chunkIndex]!;
    const index = lowerBound(chunk, key);
    assert(chunk[index] !== key, `key ${key} indexed twice`);
    chunk.splice(index, 0, key);
    if (index === 0) this.#firsts[chunkIndex] = key;
    if (chunk.length > chunkKeysMax) {
      const upper = chunk.splice(chunkKeysMax / 2);
      this.#chunks.splice(chunkIndex + 1, 0, upper);
      this.#firsts.splice(chunkIndex + 1, 0, upper[0]!);
    }
  }

  /** Removes a key present (the caller knows: the state's map held it). */
  delete(key: string): void {
    const chunkIndex = this.#chunkFor(key);
    const chunk = this.#chunks[chunkIndex];
    const index = chunk ? lowerBound(chunk, key) : -1;
    assert(chunk !== undefined && chunk[index] === key, `key ${key} not indexed`);
    this.#size--;
    chunk.splice(index, 1);
    if (chunk.length === 0) {
      this.#chunks.splice(chunkIndex, 1);
      this.#firsts.splice(chunkIndex, 1);
    } else if (index === 0) {
      this.#firsts[chunkIndex] = chunk[0]!;
    }
  }

  /** Keys from the first one ≥ `from` (or > `from` when `exclusive`), in order. */
  *from(from: string, exclusive = false): IterableIterator<string> {
    let chunkIndex = Math.max(0, this.#chunkFor(from));
    const first = this.#chunks[chunkIndex];
    if (!first) return;
    let index = lowerBound(first, from);
    if (exclusive && first[index] === from) index++;
    for (; chunkIndex < this.#chunks.length; chunkIndex++, index = 0) {
      const chunk = this.#chunks[chunkIndex]!;
      for (; index < chunk.length; index++) yield chunk[index]!;
    }
  }

  /** Index of the last chunk whose first key is ≤ key; -1 when key is before every chunk. */
  #chunkFor(key: string): number {
    let low = 0;
    let high = this.#firsts.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#firsts[middle]! <= key) low = middle + 1;
      else high = middle;
    }
    return low - 1;
  }
}

/** First index in a sorted array whose key is ≥ key. */
function lowerBound(keys: readonly string[], key: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (keys[middle]! < key) low = middle + 1;
    else high = middle;
  }
  return low;
}
