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
  /**
   * A leader's: confirms it still leads before a read is served (ReadIndex, core/read-index.ts)
   * and says at which offset the read is then served. Followers serve what they applied.
   */
  confirmRead?(waitMs: number, done: (confirmation: ReadConfirmation) => void): void;
  status(): Record<string, unknown>;
  stop(): void;
}

/**
 * Why a node answers a read with 503 stale_read: `reason` is in the answer, for clients and tests.
 * `diverged` and `deposed` refuse every read; `unconfirmed`: a leader could not confirm within the
 * read wait that it still leads.
 */
export interface ReadRefusal {
  reason: "diverged" | "deposed" | "unconfirmed";
  message: string;
}

export type ReadConfirmation = { kind: "confirmed"; readIndex: number } | { kind: "overloaded" } | ({ kind: "refused" } & ReadRefusal);
