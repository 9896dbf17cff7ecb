import type { Recovery } from "../node/recovery.ts";
import type { SimContext } from "./context.ts";
import type { FollowerHost } from "./follower-host.ts";
import { type LeaderBuild, type LeaderObserver, LeaderProcess, type PolledFollower } from "./leader-process.ts";
import type { Network } from "./network.ts";
import type { DelayRangeUs } from "./scenario.ts";
import { SimDisk } from "./sim-disk.ts";

export interface LeaderHostObserver extends LeaderObserver {
  /** A leader process is about to serve: after recovery, before its first message. */
  leaderStarted(leader: LeaderProcess, recovery: Recovery, polled: PolledFollower[]): void;
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
}

/**
 * Where the leader runs, as main.ts does it: every process start runs the production recovery
 * (src/node/recovery.ts) before it serves with the production LeaderNode. A crash kills the process (or its recovery), its
 * machine's disk keeps what was synced (SimDisk), and it is started again on it after a while; a deposal starts a successor at
 * once on another machine (a new one with an empty disk, or at times an earlier leader's, with its stale log), while the old
 * process runs on for a while, then dies. Clients reach only the process that serves; while none does they are
 * refused, as by a port nobody listens on.
 */
export class LeaderHost {
  /** Every process that served, in order. */
  readonly leaders: LeaderProcess[] = [];
  readonly stats: LeaderStats = { leaderCrashes: 0, leaderDeposals: 0, recoveries: 0, takeovers: 0 };
  #serving: LeaderProcess | null = null;
  /** Told when a process starts serving, after the checker. */
  onServe: ((leader: LeaderProcess) => void) | null = null;
  #recovering: LeaderProcess | null = null;
  #generation = 0;
  /** Tells a scheduled restart whether it is still the one wanted. */
  #restartToken = 0;
  /**
   * In a crash loop: how long after it starts serving the next process dies, the chance its
   * successor loops on, and how long each new process starts cut off from one follower.
   */
  #crashLoop: CrashLoop | null = null;
  /** The disk of the machine the next process starts on, and of every machine a leader ran on. */
  #disk: SimDisk;
  readonly #machines: SimDisk[] = [];

  constructor(
    private readonly context: SimContext,
    private readonly followers: readonly FollowerHost[],
    private readonly network: Network,
    private readonly observer: LeaderHostObserver,
    private readonly build: LeaderBuild,
  ) {
    this.#disk = this.#otherMachine();
  }

  /** The process that takes clients now, if any. */
  get serving(): LeaderProcess | null {
    return this.#serving;
  }

  /** The process recovering now, if any. */
  get recovering(): LeaderProcess | null {
    return this.#recovering;
  }

  /** Deposed processes still running. */
  get deposedRunning(): LeaderProcess[] {
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
    } else if (this.#recovering) {
      this.#recovering.crash();
      this.#recovering = null;
    } else {
      this.context.log("fault leader crash: no leader process is running");
      return;
    }
    this.#disk.crash();
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
    this.#disk = this.#otherMachine();
    const lifeUs = this.context.delayUs(this.context.scenario.deposedLifeUs);
    this.context.queue.after(lifeUs, () => old.crash());
    this.#startProcess();
  }

  /** Faults end: deposed processes die, and a leader that is down starts now. */
  heal(): void {
    this.#crashLoop = null;
    for (const leader of this.deposedRunning) leader.crash();
    if (!this.#serving && !this.#recovering) this.#startProcess();
  }

  #restartLater(): void {
    const token = ++this.#restartToken;
    const downUs = this.context.delayUs(this.context.scenario.leaderDownUs);
    this.context.log(`leader process down for ${downUs / 1000}ms`);
    this.context.queue.after(downUs, () => {
      if (token === this.#restartToken && !this.#serving && !this.#recovering) this.#startProcess();
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
    const process = new LeaderProcess(name, this.context, this.followers, this.network, this.observer, this.build, this.#disk);
    this.#recovering = process;
    this.context.log(`${name} recovering: fences ${this.followers.length} followers`);
    process.recover(
      (recovery, polled) => {
        if (this.#recovering === process) this.#serve(process, recovery, polled);
      },
      (reason) => {
        // As src/main.ts: the process exits, and is started again later.
        if (this.#recovering !== process) return;
        this.context.log(`${name} exits: ${reason}`);
        process.crash();
        this.#recovering = null;
        this.#restartLater();
      },
    );
  }

  /**
   * The machine a successor starts on when the old process runs on: one no running process uses,
   * an earlier leader's at times (its disk holds that leader's log, stale by now), else a new one.
   */
  #otherMachine(): SimDisk {
    const busy = new Set([...this.leaders, this.#recovering].filter((leader) => leader && !leader.dead).map((leader) => leader!.disk));
    const idle = this.#machines.filter((disk) => disk !== this.#disk && !busy.has(disk));
    if (idle.length > 0 && this.context.rng.chance(0.5)) {
      const disk = this.context.rng.pick(idle);
      this.context.log(`the successor starts on an earlier leader's machine (m${this.#machines.indexOf(disk) + 1})`);
      return disk;
    }
    const disk = new SimDisk(this.context.rng, this.context.scenario.diskSyncDelay, this.context.clock);
    this.#machines.push(disk);
    return disk;
  }

  #serve(process: LeaderProcess, recovery: Recovery, polled: PolledFollower[]): void {
    this.#recovering = null;
    this.stats.recoveries++;
    if (recovery.recovered) this.stats.takeovers++;
    const node = process.serve(recovery);
    const { core } = node;
    this.context.log(
      `${process.name} serves: e${core.epoch} applied=${core.state.appliedOffset} last=${core.lastOffset} readBarrier=${core.readBarrierOffset}` +
        (recovery.recovered ? ` (from ${recovery.recovered.from})` : ""),
    );
    this.leaders.push(process);
    this.#serving = process;
    this.observer.leaderStarted(process, recovery, polled);
    node.start();
    this.onServe?.(process);
    const loop = this.#crashLoop;
    if (loop) {
      const afterUs = this.context.delayUs(loop.afterUs);
      if (!this.context.rng.chance(loop.continueChance)) this.#crashLoop = null;
      this.context.log(`${process.name} will crash ${afterUs / 1000}ms after it started serving`);
      this.context.queue.after(afterUs, () => {
        if (this.#serving === process && this.context.nowUs < this.context.scenario.faultWindowUs) this.crash();
      });
    }
  }
}
