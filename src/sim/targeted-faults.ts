import { fenceQuorum } from "../core/recovery.ts";
import type { SimContext } from "./context.ts";
import type { FollowerHost } from "./follower-host.ts";
import type { InvariantChecker } from "./invariants.ts";
import type { LeaderHost } from "./leader-host.ts";
import type { LeaderProcess } from "./leader-process.ts";
import type { Network } from "./network.ts";
import { Random } from "./random.ts";
import type { LeaderRestarts } from "./scenario.ts";

const usPerMs = 1000;
/** Share of runs with leader restarts whose successor, after faults heal, finds the follower it fetches from stalled. */
const stallShare = 0.3;
/** Share of asynchronous runs (with leader restarts not "never") where the leader crashes while one follower alone applied its latest writes. */
const divergeShare = 0.3;
/** Asynchronous recovery waits this long at most for a missing follower in the runs that set one apart (short timings only: the production 10 s would make the run long). */
const divergeAsyncWaitMsMax = 1000;
/** Writes a new leader makes at most to pass the diverged follower's applied offset. */
const fillerWritesMax = 200;
/** How long the leader's messages may reach one follower only, waiting for it to apply writes the others lack. */
const cutOffMaxUs = 100 * usPerMs;
/** How long after faults heal a targeted schedule may still wait for its moment (a leader serving, a fetch) before it gives up. */
const scheduleWaitMaxUs = 30_000 * usPerMs;
/** Seeds the targeted faults' own PRNG apart from the run's. */
const sideSeedOffset = 2 ** 40;

export interface TargetedStats {
  /** Recoveries whose chosen source stalled while the others were enough. */
  stalledFetches: number;
  /** Leader crashes in asynchronous runs while one follower alone applied the latest writes (held paused). */
  crashesLeavingOneAhead: number;
}

/**
 * Two fault schedules aimed at schedules random faults rarely line up (issue 11's defects 2 and
 * 4). Their choices come from a PRNG of their own, so a run they leave alone replays as before.
 *
 * - Stalled recovery (runs with leader restarts): once faults have healed, the leader crashes;
 *   the follower its successor's recovery first fetches data from then pauses for longer than
 *   `recoveryLivenessUs`. When the others are enough for the lowest write quorum any follower
 *   reports, recovery must lead within that bound (`recovery-liveness`): the failed fetch goes on
 *   with the next most advanced follower, on the production fetch timeout.
 * - Diverging follower (asynchronous runs): the leader's messages reach one follower only until
 *   it alone applied writes the others lack; then the leader crashes. That follower stays paused
 *   until recovery went on without it (the asynchronous wait) and the new leader wrote past its
 *   applied offset, then resumes. It holds applied writes the new leader lacks: it must be
 *   diverged, never counted (`counted-holds`), and repaired by snapshot.
 */
export class TargetedFaults {
  /** Until a targeted fault has run its course the run is not quiet. */
  busy = false;
  readonly stats: TargetedStats = { stalledFetches: 0, crashesLeavingOneAhead: 0 };
  readonly #rng: Random;
  /** A follower is held paused (its resume ends the schedule). */
  #holding = false;

  constructor(
    seed: number,
    private readonly context: SimContext,
    private readonly host: LeaderHost,
    private readonly network: Network,
    private readonly followers: readonly FollowerHost[],
    private readonly checker: InvariantChecker,
    private readonly leaderRestarts: LeaderRestarts,
  ) {
    this.#rng = new Random(seed + sideSeedOffset);
  }

  start(): void {
    const { scenario, queue } = this.context;
    if (scenario.faultWindowUs === 0) return;
    const stall = scenario.leaderFaults > 0 && this.#rng.chance(stallShare);
    const asyncRestarts = scenario.writeQuorum === 0 && this.leaderRestarts !== "never" && scenario.timings.asyncWaitMs <= divergeAsyncWaitMsMax;
    const diverge = asyncRestarts && (this.leaderRestarts === "always" || this.#rng.chance(divergeShare));
    // One schedule per run: both wait on the same hooks (host.onServe, context.onRecoveryFetch) and the one busy flag.
    if (stall && !diverge) {
      this.busy = true;
      queue.at(scenario.faultWindowUs, () => this.#whenServing(() => this.#crashBeforeStall()));
    }
    if (diverge) {
      this.busy = true;
      // In the first half of the fault window, while clients still write.
      queue.at(this.#rng.int(1, scenario.faultWindowUs / 2), () => this.#whenServing(() => this.#cutOffAllButOne()));
    }
    // A schedule still waiting (for a leader to serve, or to fetch) this long after faults healed gives up: the run must end.
    if (this.busy) queue.at(scenario.faultWindowUs + scheduleWaitMaxUs, () => this.#giveUp());
  }

  /** The bound on a recovery whose chosen source stops answering while the others that answered are enough. */
  recoveryLivenessUs(): number {
    const { timings, requestDelay, linkDelay } = this.context.scenario;
    const roundTripUs = requestDelay.maxUs + 2 * linkDelay.maxUs;
    return (timings.recoverTimeoutMs + 2 * (timings.positionTimeoutMs + timings.positionRetryMs)) * usPerMs + 8 * roundTripUs;
  }

  #giveUp(): void {
    if (!this.busy || this.#holding) return;
    this.context.log("targeted fault abandoned: what it waited for did not happen");
    this.context.onRecoveryFetch = null;
    this.host.onServe = null;
    this.busy = false;
  }

  /** Runs `then` 1–20 ms after a leader serves (now, or once the one recovering does). */
  #whenServing(then: () => void): void {
    const later = () => this.context.queue.after(this.#rng.int(1, 20) * usPerMs, then);
    if (this.host.serving) later();
    else
      this.host.onServe = () => {
        this.host.onServe = null;
        later();
      };
  }

  #crashBeforeStall(): void {
    const { context } = this;
    if (!this.host.serving) {
      context.log("targeted fault skipped: no leader serving to crash before a stalled recovery");
      this.busy = false;
      return;
    }
    context.log("targeted fault: the leader crashes after faults healed; its successor's first fetch will stall");
    this.host.crash();
    context.onRecoveryFetch = (leaderName, follower) => {
      context.onRecoveryFetch = null;
      this.host.onServe = null;
      this.#stall(leaderName, follower);
    };
    // A successor that had nothing to fetch (every follower empty) leads without one.
    this.host.onServe = () => {
      this.host.onServe = null;
      context.onRecoveryFetch = null;
      context.log("targeted fault skipped: the successor fetched no data");
      this.busy = false;
    };
  }

  #stall(leaderName: string, source: FollowerHost): void {
    const { context } = this;
    const leader = this.host.recovering;
    const floors = this.followers.map((follower) => follower.core.writeQuorumFloor ?? Number.POSITIVE_INFINITY);
    const lowestQuorum = Math.min(context.scenario.writeQuorum, ...floors);
    const needed = fenceQuorum(this.followers.length, lowestQuorum);
    const others = this.followers.filter((follower) => follower !== source && !follower.down && !follower.paused).length;
    if (!leader || leader.name !== leaderName || others < needed || source.down || source.paused) {
      context.log(`targeted fault skipped: ${source.name} is not alone in the way (${others} others up, ${needed} needed)`);
      this.busy = false;
      return;
    }
    this.stats.stalledFetches++;
    const boundUs = this.recoveryLivenessUs();
    const pauseUs = boundUs + this.#rng.int(1, 50) * usPerMs;
    context.log(`targeted fault: ${source.name} stalls while ${leaderName} fetches its data, for ${pauseUs / usPerMs}ms`);
    this.#holdPaused(source, pauseUs);
    context.queue.after(boundUs, () => {
      if (leader.dead || leader.node !== null) return;
      this.checker.report(
        "recovery-liveness",
        `${leaderName} has not recovered ${boundUs / usPerMs}ms after ${source.name} stopped answering its fetch, though ${others} other followers answer (${needed} needed)`,
      );
    });
  }

  /** The leader's messages reach one follower only, until it alone applied writes (then the leader crashes) or `cutOffMaxUs` passed. */
  #cutOffAllButOne(): void {
    const { context } = this;
    const running = this.followers.filter((follower) => !follower.down && !follower.paused);
    if (!this.host.serving || running.length === 0) {
      context.log("targeted fault skipped: no leader serving, or no follower running, to leave one ahead");
      this.busy = false;
      return;
    }
    const ahead = running[this.#rng.int(0, running.length - 1)]!;
    const others = this.followers.filter((follower) => follower !== ahead);
    const untilUs = context.nowUs + cutOffMaxUs;
    for (const follower of others) this.network.partition(follower.index, untilUs, "to-follower");
    context.log(`targeted fault: the leader's messages reach ${ahead.name} only, until it alone applied writes (${cutOffMaxUs / usPerMs}ms at most)`);
    const check = () => {
      const done = context.nowUs >= untilUs || !this.host.serving || ahead.down || ahead.paused || ahead.core.appliedOffset > this.#othersHold(ahead);
      if (!done) {
        context.queue.after(usPerMs, check);
        return;
      }
      for (const follower of others) this.network.endPartition(follower.index);
      this.#crashLeavingOneAhead(ahead);
    };
    context.queue.after(usPerMs, check);
  }

  #othersHold(ahead: FollowerHost): number {
    return Math.max(...this.followers.filter((follower) => follower !== ahead).map((follower) => follower.core.lastOffset));
  }

  /** The leader crashes while `ahead` alone applied its latest writes; it stays paused until the successor wrote past them. */
  #crashLeavingOneAhead(ahead: FollowerHost): void {
    const { context } = this;
    const othersHold = this.#othersHold(ahead);
    if (!this.host.serving || ahead.down || ahead.paused || ahead.core.appliedOffset <= othersHold) {
      context.log(`targeted fault skipped: ${ahead.name} did not apply writes the others lack (no leader, or no writes meanwhile)`);
      this.busy = false;
      return;
    }
    this.stats.crashesLeavingOneAhead++;
    const { timings } = context.scenario;
    const holdUs = (timings.asyncWaitMs + 2 * (timings.positionTimeoutMs + timings.positionRetryMs) + timings.recoverTimeoutMs) * usPerMs;
    const maxUs = context.scenario.leaderDownUs.maxUs + holdUs + this.#rng.int(1, 50) * usPerMs;
    context.log(`targeted fault: the leader crashes while ${ahead.name} alone applied up to ${ahead.core.appliedOffset} (others hold up to ${othersHold})`);
    const resume = this.#holdPaused(ahead, maxUs);
    this.host.crash();
    this.host.onServe = (leader) => {
      this.host.onServe = null;
      this.#writePast(leader, ahead.core.appliedOffset, 0, resume);
    };
  }

  /** The new leader writes until its log passes `offset` (a diverged follower's snapshot waits for that), then `then`. */
  #writePast(leader: LeaderProcess, offset: number, written: number, then: () => void): void {
    if (this.host.serving !== leader || leader.core.lastOffset > offset || written >= fillerWritesMax) {
      then();
      return;
    }
    leader.write("filler", JSON.stringify(`filler.${written}`), undefined, () => this.#writePast(leader, offset, written + 1, then));
  }

  /** Pauses `follower` until `forUs` has passed or the returned function is called; no other fault touches it meanwhile. */
  #holdPaused(follower: FollowerHost, forUs: number): () => void {
    follower.pause();
    follower.pauseHeld = true;
    const incarnation = follower.incarnation;
    this.#holding = true;
    const resume = () => {
      if (!this.#holding) return;
      this.#holding = false;
      this.busy = false;
      if (follower.pauseHeld && follower.incarnation === incarnation) {
        follower.pauseHeld = false;
        follower.resume();
      }
    };
    this.context.queue.after(forUs, resume);
    return resume;
  }
}
