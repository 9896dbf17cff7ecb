import type { LeaderCore, LeaderOptions } from "../core/leader.ts";
import type { SimContext } from "./context.ts";
import type { DelayRangeUs } from "./scenario.ts";
import type { Network } from "./network.ts";
import type { SimFollower } from "./sim-follower.ts";
import { type LeaderObserver, SimLeader } from "./sim-leader.ts";
import { type RecoveryOutcome, type RecoveryPolicy, SimRecovery } from "./sim-recovery.ts";

export interface LeaderHostObserver extends LeaderObserver {
  /** A leader process is about to serve: after recovery, before its first message. */
  leaderStarted(leader: SimLeader, outcome: RecoveryOutcome): void;
}

export interface CrashLoop {
  afterUs: DelayRangeUs;
  continueChance: number;
  cutOffUs: DelayRangeUs;
}

export interface LeaderStats {
  leaderCrashes: number;
  leaderDeposals: number;
  /** Recoveries that ended in a serving leader, and those that took over a follower's state and log. */
  recoveries: number;
  takeovers: number;
  /** Recoveries whose data transfer failed, so the process exited and started again. */
  recoveryFailures: number;
}

/**
 * Where the leader runs, as main.ts does it: every process start recovers from the followers
 * (src/node/recovery.ts) before it serves. A crash kills the process (or its recovery) and it is
 * started again after a while; a deposal starts a successor at once while the old process runs on
 * for a while, then dies. Clients reach only the process that serves; while none does they are
 * refused, as by a port nobody listens on.
 */
export class LeaderHost {
  /** Every process that served, in order. */
  readonly leaders: SimLeader[] = [];
  readonly stats: LeaderStats = { leaderCrashes: 0, leaderDeposals: 0, recoveries: 0, takeovers: 0, recoveryFailures: 0 };
  #serving: SimLeader | null = null;
  #recovery: SimRecovery | null = null;
  #generation = 0;
  /** Tells a scheduled restart whether it is still the one wanted. */
  #restartToken = 0;
  /**
   * In a crash loop: how long after it starts serving the next process dies, the chance its
   * successor loops on, and how long each new process starts cut off from one follower.
   */
  #crashLoop: CrashLoop | null = null;

  constructor(
    private readonly context: SimContext,
    private readonly followers: readonly SimFollower[],
    private readonly network: Network,
    private readonly observer: LeaderHostObserver,
    private readonly newLeader: (options: LeaderOptions) => LeaderCore,
    private readonly policy: RecoveryPolicy,
  ) {}

  /** The process that takes clients now, if any. */
  get serving(): SimLeader | null {
    return this.#serving;
  }

  /** Deposed processes still running. */
  get deposedRunning(): SimLeader[] {
    return this.leaders.filter((leader) => leader.deposed && !leader.dead);
  }

  start(): void {
    this.#startProcess();
  }

  crash(): void {
    this.stats.leaderCrashes++;
    if (this.#serving) {
      this.#serving.crash();
      this.#serving = null;
    } else if (this.#recovery) {
      this.#recovery.abort();
      this.#recovery = null;
    } else {
      this.context.log("fault leader crash: no leader process is running");
      return;
    }
    this.#restartLater();
  }

  /**
   * A crash loop on a flaky host: every process that starts is cut off from one follower for a
   * while; the next one to serve dies soon after it starts serving, and with `continueChance` so
   * does its successor, and so on until faults heal.
   */
  startCrashLoop(loop: CrashLoop): void {
    this.#crashLoop = loop;
  }

  /** A successor starts now; the old process runs on for a while (a leader that only seemed dead). */
  depose(): void {
    const old = this.#serving;
    if (!old) {
      this.crash();
      return;
    }
    this.stats.leaderDeposals++;
    old.depose();
    this.#serving = null;
    const lifeUs = this.context.delayUs(this.context.scenario.deposedLifeUs);
    this.context.queue.after(lifeUs, () => old.crash());
    this.#startProcess();
  }

  /** Faults end: deposed processes die, and a leader that is down starts now. */
  heal(): void {
    this.#crashLoop = null;
    for (const leader of this.deposedRunning) leader.crash();
    if (!this.#serving && !this.#recovery) this.#startProcess();
  }

  #restartLater(): void {
    const token = ++this.#restartToken;
    const downUs = this.context.delayUs(this.context.scenario.leaderDownUs);
    this.context.log(`leader process down for ${downUs / 1000}ms`);
    this.context.queue.after(downUs, () => {
      if (token === this.#restartToken && !this.#serving && !this.#recovery) this.#startProcess();
    });
  }

  #startProcess(): void {
    this.#restartToken++;
    const name = `L${++this.#generation}`;
    if (this.#crashLoop) {
      const cut = this.context.rng.pick(this.followers);
      const untilUs = this.context.nowUs + this.context.delayUs(this.#crashLoop.cutOffUs);
      this.network.partition(cut.index, untilUs);
      this.context.log(`${name} starts cut off from ${cut.name} until ${untilUs / 1000}ms`);
    }
    const recovery = new SimRecovery(
      name,
      this.context,
      this.followers,
      this.network,
      this.policy,
      (outcome) => {
        if (this.#recovery === recovery) this.#serve(name, outcome);
      },
      (reason) => {
        if (this.#recovery !== recovery) return;
        this.context.log(`${name} exits: ${reason}`);
        this.stats.recoveryFailures++;
        this.#recovery = null;
        this.#restartLater();
      },
    );
    this.#recovery = recovery;
    recovery.start();
  }

  #serve(name: string, outcome: RecoveryOutcome): void {
    const { scenario } = this.context;
    this.#recovery = null;
    this.stats.recoveries++;
    if (outcome.recovered) this.stats.takeovers++;
    const core = this.newLeader({
      id: name,
      epoch: outcome.epoch,
      followerCount: this.followers.length,
      writeQuorum: scenario.writeQuorum,
      logRetention: scenario.logRetention,
      recovered: outcome.recovered && { state: outcome.recovered.state, entries: outcome.recovered.entries },
    });
    const leader = new SimLeader(name, this.context, core, this.followers, this.network, this.observer);
    this.context.log(
      `${name} serves: e${core.epoch} applied=${core.state.appliedOffset} last=${core.lastOffset} readBarrier=${core.readBarrierOffset}` +
        (outcome.recovered ? ` (from ${outcome.recovered.from})` : ""),
    );
    this.leaders.push(leader);
    this.#serving = leader;
    this.observer.leaderStarted(leader, outcome);
    leader.start();
    const loop = this.#crashLoop;
    if (loop) {
      const afterUs = this.context.delayUs(loop.afterUs);
      if (!this.context.rng.chance(loop.continueChance)) this.#crashLoop = null;
      this.context.log(`${name} will crash ${afterUs / 1000}ms after it started serving`);
      this.context.queue.after(afterUs, () => {
        if (this.#serving === leader && this.context.nowUs < this.context.scenario.faultWindowUs) this.crash();
      });
    }
  }
}
