import { type DelayQuartiles, DelayScheduler } from "./delay-scheduler.ts";
import type { NodeLog } from "../log.ts";
import { MemoryStorage, type Storage } from "./storage.ts";

/**
 * Every source of nondeterminism a node uses, behind an interface (FoundationDB's way): the
 * production node gets `realClock` and friends (src/main.ts), the simulator its own (src/sim/).
 */

/** Milliseconds since an arbitrary origin; only differences are used, and it may jump. */
export interface Clock {
  nowMs(): number;
}

export type TimerHandle = unknown;

export interface Timers {
  after(delayMs: number, run: () => void): TimerHandle;
  every(intervalMs: number, run: () => void): TimerHandle;
  cancel(handle: TimerHandle): void;
  /** Runs `run` once the current event is over (before timers that are due). */
  soon(run: () => void): void;
}

export interface Random {
  /** Uniform in [0, 1). */
  float(): number;
  /** Uniform 32-bit unsigned integer. */
  uint32(): number;
}

/** The simulated network delay of leader→follower messages (DESIGN §6), sub-millisecond. */
export interface Delays {
  after(delayMs: number, run: () => void): void;
  /** Delays actually applied, for /status (null when not measured). */
  quartiles(): DelayQuartiles | null;
  stop(): void;
}

/** A random integer up to 2^53 − 1: a process's incarnation. */
export function randomIncarnation(random: Random): number {
  return random.uint32() * 2 ** 21 + (random.uint32() >>> 11);
}

export const realClock: Clock = { nowMs: () => performance.now() };

export const realTimers: Timers = {
  after: (delayMs, run) => setTimeout(run, delayMs),
  every: (intervalMs, run) => setInterval(run, intervalMs),
  cancel: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
  soon: (run) => setImmediate(run),
};

export const realRandom: Random = {
  float: () => Math.random(),
  uint32: () => crypto.getRandomValues(new Uint32Array(1))[0]!,
};

/** The production delays: a worker thread for sub-millisecond precision (src/node/delay-scheduler.ts). */
export function realDelays(): Delays {
  return new DelayScheduler();
}

/** Everything a production follower runs on (memory storage: DATA_DIR is not there yet). */
export function productionFollowerEnv(log: NodeLog = () => {}): { clock: Clock; timers: Timers; random: Random; storage: Storage; log: NodeLog } {
  return { clock: realClock, timers: realTimers, random: realRandom, storage: new MemoryStorage(), log };
}
