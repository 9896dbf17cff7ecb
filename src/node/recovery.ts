import { type ElectionRun, type FollowerPosition, type Recovered, RecoveryCore, type RecoveryPolicy, type RecoveryStep } from "../core/recovery.ts";
import type { NodeLog } from "../log.ts";
import { recoveryDataProblem } from "../core/peer-bounds.ts";
import type { RecoveryData } from "../core/types.ts";
import type { Clock, Timers } from "./env.ts";
import type { StoredData } from "./storage.ts";
import { type NodeTimings, nodeTimings } from "./timings.ts";
import { type Transport, TransportError } from "./transport.ts";

export interface Recovery {
  epoch: number;
  recovered?: Recovered;
  /** The lowest write quorum that may have acknowledged a recovered entry (a quorum lowered at run time). */
  writeQuorumFloor?: number;
  /** The write quorum in force where the adopted log came from (W is replicated state), or null when it did not say. */
  writeQuorum?: number | null;
  /** The positions of the last round. */
  positions: FollowerPosition[];
  /** Those the decision stood on: the last round's, less those whose data did not arrive or fell short. */
  candidates: FollowerPosition[];
}

export interface RecoveryEnv {
  clock: Clock;
  timers: Timers;
  transport: Transport;
  log: NodeLog;
  timings?: Partial<NodeTimings>;
  /** The decisions to make (the simulator's mutants pass broken ones). */
  policy?: RecoveryPolicy;
  /** Rounds before recovery gives up (default recoveryRoundsMax). */
  roundsMax?: number;
  /** The leader's own stored data (DATA_DIR), a candidate beside the followers'. */
  own?: RecoveryData;
  /** An election among PEERS: `followerUrls` are then every peer, the candidate's own URL included (src/node/peer-node.ts). */
  election?: ElectionRun;
}

/** A leader's own stored data (DATA_DIR), as recovery weighs it beside its followers'. */
export function storedRecoveryData(stored: StoredData): RecoveryData {
  return {
    epoch: stored.epoch,
    appliedOffset: stored.snapshot?.offset ?? 0,
    appliedEpoch: stored.snapshot?.epoch ?? 0,
    pairs: stored.snapshot?.pairs ?? [],
    entries: stored.entries,
  };
}

/** Where the leader's own stored log stands, as a follower would report it. */
export const ownUrl = "own-storage";

/** Rounds between two log lines that repeat the same reason to wait. */
const waitingLogEveryRounds = 10;

export class RecoveryFailed extends Error {
  override name = "RecoveryFailed";
}

/**
 * Runs a (re)started leader's recovery (decided by RecoveryCore, see src/core/recovery.ts):
 * rounds of fence requests to every follower, a pause between rounds, then the most advanced
 * follower's data (the next most advanced if it does not arrive). `done` is called once with the
 * recovery, or with RecoveryFailed after recoveryRoundsMax rounds, unless `abort` was called
 * first (the process died).
 */
export function runRecovery(
  leaderId: string,
  followerUrls: readonly string[],
  writeQuorum: number,
  env: RecoveryEnv,
  done: (recovery: Recovery | RecoveryFailed) => void,
): { abort(): void } {
  const timings = { ...nodeTimings, ...env.timings };
  const core = new RecoveryCore(followerUrls.length, writeQuorum, env.policy, env.roundsMax, env.election ?? null);
  const own = env.own;
  const ownPosition = own ? positionOf(own) : null;
  if (ownPosition) core.considerOwn(ownPosition);
  const startedMs = env.clock.nowMs();
  let aborted = false;
  let lastReason = "";
  let waitingRounds = 0;
  let positions: FollowerPosition[] = [];

  const poll = (fenceEpoch: number | null) => {
    const answers: (FollowerPosition | null)[] = followerUrls.map(() => null);
    let outstanding = followerUrls.length;
    const roundDone = () => {
      // In follower order, whatever order the answers came in: ties go to the first follower.
      positions = answers.filter((answer) => answer !== null);
      const step = core.afterRound(positions, env.clock.nowMs() - startedMs, timings.asyncWaitMs);
      if (step.kind === "fetch" && positions.length < core.needed) {
        env.log(
          `recovery: only ${positions.length} of ${followerUrls.length} followers answered; in asynchronous mode the others' unreplicated writes may be lost`,
          {
            event: "recovery",
            level: "warn",
            fields: { step: "partial", answered: positions.length, followers: followerUrls.length },
          },
        );
      }
      run(step);
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
      case "retry": {
        // The first round that waits says why, then every tenth; another reason is said at once.
        const waiting = step.reason.startsWith("waiting");
        if (!waiting || step.reason !== lastReason || waitingRounds % waitingLogEveryRounds === 0)
          env.log(`recovery: ${step.reason}`, { event: "recovery", fields: { step: "retry", reason: step.reason } });
        waitingRounds = waiting ? waitingRounds + 1 : 0;
        lastReason = step.reason;
        env.timers.after(timings.positionRetryMs, () => run(core.poll()));
        return;
      }
      case "fetch":
        if (step.from === ownPosition && own) {
          run(core.afterFetch(step.from, own));
          return;
        }
        env.transport.recover(step.from.url, timings.recoverTimeoutMs, (answer) => {
          if (aborted) return;
          // Peers are trusted only as far as the protocol allows: data no honest follower sends costs its source, not the process.
          const malformed = answer instanceof TransportError ? null : recoveryDataProblem(answer);
          const next = core.afterFetch(step.from, answer instanceof TransportError ? answer.message : (malformed ?? answer));
          if (next.kind !== "done") {
            const why =
              answer instanceof TransportError
                ? `fetching the data of ${step.from.url} failed (${answer.message})`
                : malformed !== null
                  ? `the data of ${step.from.url} is not what a follower sends: ${malformed}`
                  : `the data of ${step.from.url} no longer reaches the position it reported (${step.from.lastOffset}, epoch ${step.from.lastEntryEpoch})`;
            env.log(`recovery: ${why}; trying the next most advanced`, {
              event: "recovery",
              level: "warn",
              fields: { step: "fetch_failed", from: step.from.url },
            });
          }
          run(next);
        });
        return;
      case "done":
        if (step.recovered) {
          const { from, state, entries } = step.recovered;
          env.log(`recovery: took over ${from} (applied ${state.appliedOffset}, ${entries.length} entries beyond); new epoch ${step.epoch}`, {
            event: "recovery",
            fields: { step: "took_over", from, appliedOffset: state.appliedOffset, entries: entries.length, newEpoch: step.epoch },
          });
        }
        done({
          epoch: step.epoch,
          recovered: step.recovered,
          writeQuorumFloor: step.writeQuorumFloor,
          writeQuorum: step.writeQuorum,
          positions,
          candidates: step.candidates,
        });
        return;
      case "failed":
        env.log(`recovery: ${step.reason}`, { event: "recovery", level: "error", fields: { step: "failed", reason: step.reason } });
        done(new RecoveryFailed(step.reason));
    }
  };

  run(core.poll());
  return {
    abort() {
      aborted = true;
    },
  };
}

function positionOf(data: RecoveryData): FollowerPosition {
  const last = data.entries.at(-1);
  return {
    url: ownUrl,
    epoch: data.epoch,
    lastOffset: last?.offset ?? data.appliedOffset,
    lastEntryEpoch: last?.epoch ?? data.appliedEpoch,
    appliedOffset: data.appliedOffset,
  };
}

/** `runRecovery` as a Promise: a leader listens only once it has recovered (rejects with RecoveryFailed). */
export function recoverFromFollowers(leaderId: string, followerUrls: readonly string[], writeQuorum: number, env: RecoveryEnv): Promise<Recovery> {
  return new Promise((resolve, reject) =>
    runRecovery(leaderId, followerUrls, writeQuorum, env, (result) => (result instanceof RecoveryFailed ? reject(result) : resolve(result))),
  );
}
