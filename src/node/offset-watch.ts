import { constants } from "../core/constants.ts";

/**
 * Promises that resolve once a monotonically growing offset reaches a target, or false after a
 * bounded wait. Used for "wait until applied" reads and for messages that arrived ahead of a gap.
 */
interface Watcher {
  offset: number;
  resolve: (reached: boolean) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class OffsetWatch {
  #watchers: Watcher[] = [];
  /** Waits refused because `offsetWatchersMax` were waiting already. */
  refusedWhenFull = 0;

  constructor(
    private readonly current: () => number,
    private readonly watchersMax: number = constants.offsetWatchersMax,
  ) {}

  reached(offset: number): boolean {
    return this.current() >= offset;
  }

  /** Whether a new wait would be refused (the caller answers 503 overloaded). */
  get full(): boolean {
    return this.#watchers.length >= this.watchersMax;
  }

  /** Resolves true once the offset is reached; false after `timeoutMs`, or at once when `full`. */
  waitFor(offset: number, timeoutMs: number): Promise<boolean> {
    if (this.current() >= offset) return Promise.resolve(true);
    if (this.full) {
      this.refusedWhenFull++;
      return Promise.resolve(false);
    }
    return new Promise((resolve) => {
      const watcher: Watcher = {
        offset,
        resolve,
        timer: setTimeout(() => {
          this.#watchers = this.#watchers.filter((w) => w !== watcher);
          resolve(this.current() >= offset);
        }, timeoutMs),
      };
      this.#watchers.push(watcher);
    });
  }

  /** Call after the offset may have grown. */
  notify(): void {
    if (this.#watchers.length === 0) return;
    const offset = this.current();
    const remaining: Watcher[] = [];
    for (const watcher of this.#watchers) {
      if (watcher.offset <= offset) {
        clearTimeout(watcher.timer);
        watcher.resolve(true);
      } else {
        remaining.push(watcher);
      }
    }
    this.#watchers = remaining;
  }

  /** Resolves every waiter with its current answer (shutdown). */
  close(): void {
    for (const watcher of this.#watchers) {
      clearTimeout(watcher.timer);
      watcher.resolve(this.current() >= watcher.offset);
    }
    this.#watchers = [];
  }
}
