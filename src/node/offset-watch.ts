import { constants } from "../core/constants.ts";
import type { TimerHandle, Timers } from "./env.ts";

/**
 * Callbacks once a monotonically growing offset reaches a target, or with false after a bounded
 * wait. Used for "wait until applied" reads and for messages that arrived ahead of a gap. At most
 * `watchersMax` wait at once; beyond, a wait is answered false at once.
 */
interface Watcher {
  offset: number;
  done: (reached: boolean) => void;
  timer: TimerHandle;
}

export class OffsetWatch {
  #watchers: Watcher[] = [];
  /** Waits refused because `offsetWatchersMax` were waiting already. */
  refusedWhenFull = 0;

  constructor(
    private readonly current: () => number,
    private readonly timers: Timers,
    private readonly watchersMax: number = constants.offsetWatchersMax,
  ) {}

  reached(offset: number): boolean {
    return this.current() >= offset;
  }

  /** Whether a new wait would be refused (the caller answers 503 overloaded). */
  get full(): boolean {
    return this.#watchers.length >= this.watchersMax;
  }

  /** Calls `done` with true once `offset` is reached (at once if it is); false after `timeoutMs`, or at once when `full`. */
  waitFor(offset: number, timeoutMs: number, done: (reached: boolean) => void): void {
    if (this.current() >= offset) {
      done(true);
      return;
    }
    if (this.full) {
      this.refusedWhenFull++;
      done(false);
      return;
    }
    const watcher: Watcher = {
      offset,
      done,
      timer: this.timers.after(timeoutMs, () => {
        this.#watchers = this.#watchers.filter((w) => w !== watcher);
        done(this.current() >= offset);
      }),
    };
    this.#watchers.push(watcher);
  }

  wait(offset: number, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => this.waitFor(offset, timeoutMs, resolve));
  }

  /** Call after the offset may have grown. Watchers reached are answered in the order they came. */
  notify(): void {
    if (this.#watchers.length === 0) return;
    const offset = this.current();
    const reached: Watcher[] = [];
    const remaining: Watcher[] = [];
    for (const watcher of this.#watchers) (watcher.offset <= offset ? reached : remaining).push(watcher);
    if (reached.length === 0) return;
    // Removed before any callback runs: a callback may grow the offset and notify again.
    this.#watchers = remaining;
    for (const watcher of reached) {
      this.timers.cancel(watcher.timer);
      watcher.done(true);
    }
  }

  /** Answers every waiter with its current answer (shutdown). */
  close(): void {
    const watchers = this.#watchers;
    this.#watchers = [];
    for (const watcher of watchers) {
      this.timers.cancel(watcher.timer);
      watcher.done(this.current() >= watcher.offset);
    }
  }
}
