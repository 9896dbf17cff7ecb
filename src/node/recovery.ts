import { type FollowerPosition, mostAdvanced, nextEpoch, recoveryQuorum } from "../core/recovery.ts";
import { StateMachine } from "../core/state-machine.ts";
import type { Entry } from "../core/types.ts";
import type { Transport } from "./transport.ts";

export interface Recovery {
  epoch: number;
  recovered?: { state: StateMachine; entries: Entry[]; from: string };
}

const positionTimeoutMs = 1000;
const recoverTimeoutMs = 60_000;
const retryIntervalMs = 500;

/**
 * Before a (re)started leader takes writes: hear from enough followers that every acknowledged
 * write is held by one of them, take over the most advanced one's state and log, and start a
 * new epoch above every epoch seen. A leader never wipes or forks what its followers hold.
 */
export async function recoverFromFollowers(
  followerUrls: readonly string[],
  writeQuorum: number,
  transport: Transport,
  log: (line: string) => void,
  options: { asyncWaitMs?: number; clock?: () => number } = {},
): Promise<Recovery> {
  const needed = recoveryQuorum(followerUrls.length, writeQuorum);
  const asyncWaitMs = options.asyncWaitMs ?? 10_000;
  const clock = options.clock ?? Date.now;
  const started = performance.now();
  let positions: FollowerPosition[] = [];
  for (let attempt = 0; ; attempt++) {
    const answers = await Promise.allSettled(followerUrls.map((url) => transport.position(url, positionTimeoutMs)));
    positions = answers.flatMap((answer) => (answer.status === "fulfilled" ? [answer.value] : []));
    if (positions.length >= needed) break;
    // Asynchronous replication promises nothing about unreplicated writes: go on after a bound.
    if (writeQuorum === 0 && performance.now() - started > asyncWaitMs) {
      log(`recovery: only ${positions.length} of ${followerUrls.length} followers answered; in asynchronous mode the others' unreplicated writes may be lost`);
      break;
    }
    if (attempt % 10 === 0) log(`recovery: waiting for followers, ${positions.length} of the ${needed} needed answered`);
    await Bun.sleep(retryIntervalMs);
  }
  // The clock keeps epochs unique even if this leader restarted before any follower saw its last epoch.
  const epoch = nextEpoch(positions, clock());
  const best = mostAdvanced(positions);
  if (!best || best.lastOffset === 0) return { epoch };
  const data = await transport.recover(best.url, recoverTimeoutMs);
  const state = StateMachine.restore(data.appliedOffset, data.appliedEpoch, data.pairs);
  log(`recovery: took over ${best.url} (epoch ${best.epoch}, applied ${data.appliedOffset}, held up to ${best.lastOffset}); new epoch ${epoch}`);
  return { epoch, recovered: { state, entries: data.entries, from: best.url } };
}
