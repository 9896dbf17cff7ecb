import type { TimerHandle, Timers } from "./env.ts";

/**
 * Callbacks once a monotonically growing offset reaches a target, or with false after a bounded
 * wait. Used for "wait until applied" reads and for messages that arrived ahead of a gap.
 */
interface Watcher {
  offset: number;
  done: (reached: boolean) => void;
  timer: TimerHandle;
}

export class OffsetWatch {
  #watchers: Watcher[] = [];

  constructor(
    private readonly current: () => number,
    private readonly timers: Timers,
  ) {}

  /** Calls `done` (at once if already reached) with whether `offset` was reached within `timeoutMs`. */
  waitFor(offset: number, timeoutMs: number, done: (reached: boolean) => void): void {
    if (this.current() >= offset) {
      done(true);
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
