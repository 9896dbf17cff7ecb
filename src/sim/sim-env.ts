import type { Clock, Delays, TimerHandle, Timers } from "../node/env.ts";
import type { EventQueue, Scheduled } from "./event-queue.ts";

const usPerMs = 1000;

/** Node milliseconds as whole virtual microseconds. */
export function msToUs(ms: number): number {
  return Math.max(0, Math.round(ms * usPerMs));
}

/** The virtual clock as a node reads it; `stepMs` makes it jump (a clock step), the agenda does not. */
export class SimClock implements Clock {
  #offsetUs = 0;

  constructor(private readonly queue: EventQueue) {}

  nowMs(): number {
    return (this.queue.nowUs + this.#offsetUs) / usPerMs;
  }

  stepMs(deltaMs: number): void {
    this.#offsetUs += msToUs(Math.abs(deltaMs)) * Math.sign(deltaMs);
  }
}

interface Interval {
  scheduled: Scheduled | null;
}

/**
 * One process's timers on the simulator's agenda. When the process dies (`kill`), every timer it
 * set stays silent, as a dead process's would.
 */
export class ProcessTimers implements Timers {
  #alive = true;

  constructor(private readonly queue: EventQueue) {}

  get alive(): boolean {
    return this.#alive;
  }

  kill(): void {
    this.#alive = false;
  }

  after(delayMs: number, run: () => void): TimerHandle {
    return this.queue.after(msToUs(delayMs), () => {
      if (this.#alive) run();
    });
  }

  every(intervalMs: number, run: () => void): TimerHandle {
    const intervalUs = Math.max(1, msToUs(intervalMs));
    const interval: Interval = { scheduled: null };
    const tick = () => {
      if (!this.#alive) return;
      interval.scheduled = this.queue.after(intervalUs, tick);
      run();
    };
    interval.scheduled = this.queue.after(intervalUs, tick);
    return interval;
  }

  cancel(handle: TimerHandle): void {
    const target = handle as Scheduled | Interval;
    if ("scheduled" in target) {
      if (target.scheduled) this.queue.cancel(target.scheduled);
      target.scheduled = null;
    } else {
      this.queue.cancel(target);
    }
  }

  soon(run: () => void): void {
    this.queue.after(0, () => {
      if (this.#alive) run();
    });
  }
}

/** The leader's simulated network delay on the process's own timers (a crash loses what waits). */
export class SimDelays implements Delays {
  constructor(private readonly timers: ProcessTimers) {}

  after(delayMs: number, run: () => void): void {
    this.timers.after(delayMs, run);
  }

  quartiles(): null {
    return null;
  }

  stop(): void {}
}
