import type { LeaderCore, LeaderOptions } from "../core/leader.ts";
import type { Recovered } from "../core/recovery.ts";
import type { ApplyOutcome } from "../core/txn.ts";
import type { Entry } from "../core/types.ts";
import type { NodeLog } from "../log.ts";
import type { Clock, Delays, Random, Timers } from "./env.ts";
import type { NodeObserver } from "./metrics.ts";
import type { Storage } from "./storage.ts";
import type { NodeTimings } from "./timings.ts";
import type { Transport } from "./transport.ts";

/**
 * `timeout` is indeterminate (with `deposedBy` when a newer leader deposed this one meanwhile: it
 * may have taken the write over); `deposed` and `overloaded` (MAX_PENDING_WRITES reached):
 * refused before anything was appended; so is `storage_unavailable` (the leader cannot store its
 * log: disk full or an I/O error; writes go on by themselves once it can).
 */
export type WriteOutcome =
  /** `decided`: what a conditional write or transaction decided when applied (absent for a plain write). */
  | { kind: "committed"; offset: number; acks: number; required: number; decided?: ApplyOutcome }
  | { kind: "timeout"; offset: number; acks: number; required: number; deposedBy?: number }
  | { kind: "deposed"; epoch: number }
  | { kind: "overloaded"; bound: "uncommitted entries" | "waiting writes"; limit: number }
  | { kind: "storage_unavailable"; reason: string };

/** A write's options: a per-request quorum and timeout, and a condition decided in log order (ifOffset, or a txn). */
export interface WriteOptions {
  quorum?: number;
  timeoutMs?: number;
  condition?: Pick<Entry, "ifOffset" | "txn">;
}

/** What a leader process runs on: production's in src/main.ts, simulated ones in src/sim. */
export interface LeaderEnv {
  clock: Clock;
  timers: Timers;
  random: Random;
  transport: Transport;
  storage: Storage;
  delays: Delays;
  log: NodeLog;
  timings?: Partial<NodeTimings>;
  /** The core to run (the simulator's mutants pass a broken subclass). */
  newCore?: (options: LeaderOptions) => LeaderCore;
  /** Told of every client write's answer, for metrics (src/node/metrics.ts). */
  observer?: NodeObserver;
}

/** The recovery a leader starts from (src/node/recovery.ts): its epoch, what it took over, the lowest write quorum reported. */
export interface LeaderStart {
  epoch: number;
  /** The leader's name in its messages (default NODE_ID); among PEERS its URL, which followers then report as the leader. */
  id?: string;
  recovered?: Recovered;
  writeQuorumFloor?: number;
}
