import { type FollowerPosition, type Recovered, RecoveryCore, type RecoveryPolicy, type RecoveryStep } from "../core/recovery.ts";
import type { Clock, Timers } from "./env.ts";
import { type NodeTimings, nodeTimings } from "./timings.ts";
import { type Transport, TransportError } from "./transport.ts";

export interface Recovery {
  epoch: number;
  recovered?: Recovered;
  /** The positions of the last round, the one the decision was made on. */
  positions: FollowerPosition[];
}

export interface RecoveryEnv {
  clock: Clock;
  timers: Timers;
  transport: Transport;
  log: (line: string) => void;
  timings?: Partial<NodeTimings>;
  /** The decisions to make (the simulator's mutants pass broken ones). */
  policy?: RecoveryPolicy;
}

/** Rounds between two log lines that repeat the same reason to wait. */
const waitingLogEveryRounds = 10;

/**
 * Runs a (re)started leader's recovery (decided by RecoveryCore, see src/core/recovery.ts):
 * rounds of fence requests to every follower, a pause between rounds, then the most advanced
 * follower's data. `done` is called once, unless `abort` was called first (the process died).
 */
export function runRecovery(
  leaderId: string,
  followerUrls: readonly string[],
  writeQuorum: number,
  env: RecoveryEnv,
  done: (recovery: Recovery) => void,
): { abort(): void } {
  const timings = { ...nodeTimings, ...env.timings };
  const core = new RecoveryCore(followerUrls.length, writeQuorum, env.policy);
  const startedMs = env.clock.nowMs();
  let aborted = false;
  let rounds = 0;
  let lastReason = "";
  let positions: FollowerPosition[] = [];

  const poll = (fenceEpoch: number | null) => {
    rounds++;
    const answers: (FollowerPosition | null)[] = followerUrls.map(() => null);
    let outstanding = followerUrls.length;
    const roundDone = () => {
      // In follower order, whatever order the answers came in: ties go to the first follower.
      positions = answers.filter((answer) => answer !== null);
      const asyncGiveUp = writeQuorum === 0 && env.clock.nowMs() - startedMs > timings.asyncWaitMs;
      if (asyncGiveUp && positions.length < core.needed) {
        env.log(`recovery: only ${positions.length} of ${followerUrls.length} followers answered; in asynchronous mode the others' unreplicated writes may be lost`);
      }
      run(core.afterRound(positions, asyncGiveUp));
    };
    if (outstanding === 0) {
      roundDone();
      return;
    }
    // Without fencing (a mutant), epoch 0 reads a position and changes nothing.
    const epoch = fenceEpoch ?? 0;
    followerUrls.forEach((url, index) => {
      env.transport.fence(url, epoch, leaderId, timings.positionTimeoutMs, (answer) => {
        if (aborted) return;
        if (!(answer instanceof TransportError)) answers[index] = answer;
        if (--outstanding === 0) roundDone();
      });
    });
  };

  const run = (step: RecoveryStep): void => {
    if (aborted) return;
    switch (step.kind) {
      case "poll":
        poll(step.fenceEpoch);
        return;
      case "retry":
        if (step.reason !== lastReason || rounds % waitingLogEveryRounds === 0) env.log(`recovery: ${step.reason}; trying again`);
        lastReason = step.reason;
        env.timers.after(timings.positionRetryMs, () => run(core.poll()));
        return;
      case "fetch":
        env.transport.recover(step.from.url, timings.recoverTimeoutMs, (answer) => {
          if (!aborted) run(core.afterFetch(step.from, answer instanceof TransportError ? null : answer));
        });
        return;
      case "done":
        if (step.recovered) {
          const { from, state, entries } = step.recovered;
          env.log(`recovery: took over ${from} (applied ${state.appliedOffset}, ${entries.length} entries beyond); new epoch ${step.epoch}`);
        }
        done({ epoch: step.epoch, recovered: step.recovered, positions });
    }
  };

  run(core.poll());
  return {
    abort() {
      aborted = true;
    },
  };
}

/** `runRecovery` as a Promise: a leader listens only once it has recovered. */
export function recoverFromFollowers(leaderId: string, followerUrls: readonly string[], writeQuorum: number, env: RecoveryEnv): Promise<Recovery> {
  return new Promise((resolve) => runRecovery(leaderId, followerUrls, writeQuorum, env, resolve));
}
