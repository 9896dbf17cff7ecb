import { constants } from "../core/constants.ts";
import { type FollowerPosition, mostAdvanced, nextEpoch, recoveryQuorum, recoveryWriteQuorum } from "../core/recovery.ts";
import { StateMachine } from "../core/state-machine.ts";
import type { Entry } from "../core/types.ts";
import type { RecoveryData, Transport } from "./transport.ts";

export interface Recovery {
  epoch: number;
  recovered?: { state: StateMachine; entries: Entry[]; from: string };
  /** The lowest write quorum that may have acknowledged a recovered entry (a quorum lowered at run time). */
  writeQuorumFloor?: number;
}

const positionTimeoutMs = 1000;
const retryIntervalMs = 500;

/**
 * Before a (re)started leader takes writes:
 * 1. Fence: every follower asked for its position first adopts the new epoch, so once enough of
 *    them answered, an old leader that still runs (paused, not dead) can no longer gather a
 *    write quorum. Epochs are integers: the first fence tells each follower's epoch, and one
 *    that already saw this epoch or a newer one makes us fence again above the highest seen.
 * 2. Hear from enough followers that every acknowledged write is held by one of them: enough for
 *    the lowest write quorum any of them reports (a quorum lowered at run time), else wait.
 * 3. Take over the most advanced one's state and log — checking that what arrives still reaches
 *    the position it was chosen for (it may have restarted empty in between). If its data does
 *    not arrive, or no longer reaches, go on with the next most advanced as long as the others
 *    that answered are still enough; else fence again.
 * A leader never wipes or forks what its followers hold.
 */
export async function recoverFromFollowers(
  leaderId: string,
  followerUrls: readonly string[],
  writeQuorum: number,
  transport: Transport,
  log: (line: string) => void,
  options: { asyncWaitMs?: number; roundsMax?: number } = {},
): Promise<Recovery> {
  const asyncWaitMs = options.asyncWaitMs ?? 10_000;
  const roundsMax = options.roundsMax ?? constants.recoveryRoundsMax;
  const started = performance.now();
  let epoch = nextEpoch([], 1);
  // The lowest write quorum any follower reported in any round: a quorum lowered at run time.
  let lowestQuorum = writeQuorum;
  let waitingRounds = 0;
  for (let round = 0; round < roundsMax; round++) {
    const answers = await Promise.allSettled(followerUrls.map((url) => transport.fence(url, epoch, leaderId, positionTimeoutMs)));
    const positions = answers.flatMap((answer) => (answer.status === "fulfilled" ? [answer.value] : []));
    lowestQuorum = recoveryWriteQuorum(lowestQuorum, positions);
    const newerSeen = positions.some((position) => position.epoch >= epoch);
    if (newerSeen) {
      epoch = nextEpoch(positions, epoch);
      continue;
    }
    const needed = recoveryQuorum(followerUrls.length, lowestQuorum);
    const enough = positions.length >= needed;
    // Asynchronous replication promises nothing about unreplicated writes: go on after a bound.
    const asyncGiveUp = lowestQuorum === 0 && performance.now() - started > asyncWaitMs;
    if (enough || asyncGiveUp) {
      if (!enough) {
        log(`recovery: only ${positions.length} of ${followerUrls.length} followers answered; in asynchronous mode the others' unreplicated writes may be lost`);
      }
      const candidates = [...positions];
      while (candidates.length > 0 && (candidates.length >= needed || asyncGiveUp)) {
        const best = mostAdvanced(candidates)!;
        if (best.lastOffset === 0) return { epoch, writeQuorumFloor: lowestQuorum };
        const fetched = await transport.recover(best.url, constants.recoveryIdleTimeoutMs).then(
          (data) => ({ data, error: null }),
          (error: Error) => ({ data: null, error }),
        );
        if (fetched.data && reaches(fetched.data, best)) {
          const { data } = fetched;
          const state = StateMachine.restore(data.appliedOffset, data.appliedEpoch, data.pairs);
          log(`recovery: took over ${best.url} (applied ${data.appliedOffset}, held up to ${best.lastOffset}); new epoch ${epoch}`);
          return { epoch, recovered: { state, entries: data.entries, from: best.url }, writeQuorumFloor: lowestQuorum };
        }
        log(
          fetched.error
            ? `recovery: fetching the data of ${best.url} failed (${fetched.error.message}); trying the next most advanced`
            : `recovery: the data of ${best.url} no longer reaches the position it reported (${best.lastOffset}, epoch ${best.lastEntryEpoch}); trying the next most advanced`,
        );
        candidates.splice(candidates.indexOf(best), 1);
      }
      log(`recovery: the followers left (${candidates.length}) are fewer than the ${needed} needed; fencing again`);
    } else if (waitingRounds++ % 10 === 0) {
      const why =
        lowestQuorum < writeQuorum
          ? ` (a write quorum as low as ${lowestQuorum} may have acknowledged entries they hold)`
          : "";
      log(`recovery: waiting for followers, ${positions.length} of the ${needed} needed answered${why}`);
    }
    await Bun.sleep(retryIntervalMs);
  }
  throw new Error(`recovery gave up after ${roundsMax} rounds without enough followers (see the lines above)`);
}

/** Whether the data fetched holds at least the log the follower reported when it was chosen. */
export function reaches(data: RecoveryData, position: FollowerPosition): boolean {
  const lastOffset = data.appliedOffset + data.entries.length;
  const lastEntryEpoch = data.entries.at(-1)?.epoch ?? data.appliedEpoch;
  if (lastEntryEpoch !== position.lastEntryEpoch) return lastEntryEpoch > position.lastEntryEpoch;
  return lastOffset >= position.lastOffset;
}
