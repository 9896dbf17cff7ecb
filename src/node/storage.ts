import type { Entry } from "../core/types.ts";

/**
 * Where a node keeps its log and its epoch promise (DESIGN §8). The node hands over what the
 * core's Ready says and answers only once `sync` calls back, so a disk implementation can make
 * acknowledgements and fence answers durable without any change to the node.
 */
export interface Storage {
  /** Drops stored entries beyond `offset` (a conflicting tail, or a snapshot replaced them). */
  truncateAfter(offset: number): void;
  appendEntries(entries: readonly Entry[]): void;
  /** This node never answers a leader older than `epoch` again. */
  promiseEpoch(epoch: number): void;
  /** Calls `done` once everything handed over so far is stored. */
  sync(done: () => void): void;
}

/**
 * No disk (DATA_DIR unset): the core's own log is the only copy, lost with the process. It keeps
 * the position of what it was handed, so tests can check that the node stores before it answers.
 */
export class MemoryStorage implements Storage {
  lastOffset = 0;
  epoch = 0;
  syncs = 0;

  truncateAfter(offset: number): void {
    this.lastOffset = Math.min(this.lastOffset, offset);
  }

  appendEntries(entries: readonly Entry[]): void {
    const last = entries.at(-1);
    if (last) this.lastOffset = last.offset;
  }

  promiseEpoch(epoch: number): void {
    this.epoch = Math.max(this.epoch, epoch);
  }

  sync(done: () => void): void {
    this.syncs++;
    done();
  }
}
