import { constants } from "../core/constants.ts";

/**
 * The node's waits. Production uses `nodeTimings`; the simulator uses them in half its runs
 * and shorter ones in the others (src/sim/scenario.ts), so a seed meets both.
 */
export interface NodeTimings {
  /** How long a follower holds a message that arrived ahead of an earlier one. */
  gapWaitMs: number;
  /** A replicate call gives up after this; the follower itself waits at most gapWaitMs. */
  replicateTimeoutMs: number;
  /** Recovery: one fence (position) request, the pause between rounds, the data transfer's idle bound. */
  positionTimeoutMs: number;
  positionRetryMs: number;
  recoverTimeoutMs: number;
  /** Recovery in asynchronous mode (WRITE_QUORUM 0) goes on with fewer followers after this. */
  asyncWaitMs: number;
  /** How long a read waits for `minOffset` (or the read barrier) to be applied before 503 stale_read. */
  readWaitMs: number;
}

export const nodeTimings: Readonly<NodeTimings> = {
  gapWaitMs: constants.gapWaitMs,
  replicateTimeoutMs: constants.gapWaitMs + 2000,
  positionTimeoutMs: 1000,
  positionRetryMs: 500,
  recoverTimeoutMs: constants.recoveryIdleTimeoutMs,
  asyncWaitMs: 10_000,
  readWaitMs: 1000,
};
