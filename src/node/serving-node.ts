import type { Config } from "../config.ts";
import type { StateMachine } from "../core/state-machine.ts";
import type { OffsetWatch } from "./offset-watch.ts";

/** What the routes common to both roles need from a node. */
export interface ServingNode {
  readonly role: "leader" | "follower";
  readonly config: Config;
  readonly state: StateMachine;
  /** Resolves once the state has applied an offset. */
  readonly applied: OffsetWatch;
  readonly epoch: number;
  readonly lastOffset: number;
  readonly commitOffset: number;
  /** Epoch of the last entry held. */
  readonly lastEntryEpoch: number;
  /** Reads wait until this offset is applied (a recovered leader's epoch marker). */
  readonly readBarrierOffset: number;
  /** Why this node must not serve any read now (a diverged follower, a deposed leader), or null. */
  readonly readRefusal: ReadRefusal | null;
  status(): Record<string, unknown>;
  stop(): void;
}

/** Why a node answers every read with 503 stale_read: `reason` is in the answer, for clients and tests. */
export interface ReadRefusal {
  reason: "diverged" | "deposed";
  message: string;
}
