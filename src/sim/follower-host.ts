import type { FollowerCore } from "../core/follower.ts";
import type { StateMachine, StoredValue } from "../core/state-machine.ts";
import type { Entry } from "../core/types.ts";
import { FollowerNode } from "../node/follower-node.ts";
import { readCommitted } from "../node/read.ts";
import type { SimContext } from "./context.ts";
import { followerName } from "./format.ts";
import { nodeConfig } from "./node-config.ts";
import { ProcessTimers } from "./sim-env.ts";
import { SimDisk } from "./sim-disk.ts";

/** A read served by a follower: the stored value and the commit offset the follower knew. */
export interface FollowerRead {
  stored: StoredValue | undefined;
  commitOffset: number;
}

/** What a follower process held: its applied offset and the entries after it. */
export interface HeldLog {
  appliedOffset: number;
  pending: readonly Entry[];
}

/** A request that reached a process that is down, or that crashed before answering. */
export interface Failure {
  failure: "refused" | "reset";
}

export function isFailure(answer: unknown): answer is Failure {
  return typeof answer === "object" && answer !== null && "failure" in answer;
}

/** What the host reports to the rest of the simulation. */
export interface FollowerHooks {
  /** A new StateMachine (a start, or a snapshot installed), before anything is applied to it. */
  watch(follower: FollowerHost, state: StateMachine): void;
  /** Whether the disk may have a record corrupted now (one follower in a run). */
  mayCorrupt(follower: FollowerHost): boolean;
  /** A corrupt record cut the follower's log at its restart, or a corrupt snapshot was set aside with it: what it held is gone. */
  lostSynced(follower: FollowerHost, lost: HeldLog): void;
}

interface Deferred {
  run(): void;
  abort(): void;
}

/** Chance that a follower restarting finds a corrupt record in its log (at most one follower per run). */
const corruptionChance = 0.3;

/**
 * The machine one follower runs on: it starts the production FollowerNode (src/node/) on
 * simulated timers, randomness and a simulated disk (SimDisk), and hands it the requests the
 * network delivers. The process can crash (its timers fall silent, requests it had not answered
 * fail as a reset connection, the disk keeps what was synced and maybe some of the rest, and a
 * new FollowerNode starts from it, at times with a corrupt record that cuts its log) and pause
 * (requests queue until it resumes).
 */
export class FollowerHost {
  readonly name: string;
  node: FollowerNode;
  /** Processes started so far, less one: the index of the running one in `incarnationIds`. */
  incarnation = 0;
  /** Each process's incarnation as it reports it (random, see FollowerNode). */
  readonly incarnationIds: number[] = [];
  down = false;
  paused = false;
  /** A targeted fault holds this pause: healing does not end it, and no other fault touches the follower meanwhile. */
  pauseHeld = false;
  /** What each past incarnation had synced when it crashed. */
  readonly heldAtCrash: HeldLog[] = [];
  readonly disk: SimDisk;
  #crashArmed = false;
  #snapshotsOfPastProcesses = 0;
  #timers: ProcessTimers;
  #watchedState: StateMachine;
  /** Answers still owed by the running process: each fails with `reset` if it crashes. */
  #owed = new Set<(failure: Failure) => void>();
  #deferred: Deferred[] = [];

  constructor(
    readonly index: number,
    private readonly context: SimContext,
    private readonly newCore: ((incarnation: number) => FollowerCore) | undefined,
    private readonly hooks: FollowerHooks,
  ) {
    this.name = followerName(index);
    this.disk = new SimDisk(context.rng, context.scenario.diskSyncDelay, context.clock);
    this.#timers = new ProcessTimers(context.queue);
    this.node = this.#startNode();
    this.#watchedState = this.node.core.state;
    hooks.watch(this, this.#watchedState);
  }

  get core(): FollowerCore {
    return this.node.core;
  }

  get snapshotsInstalled(): number {
    return this.#snapshotsOfPastProcesses + this.node.core.snapshotsInstalled;
  }

  /** Which process (by start order) reported `incarnationId`, or -1. */
  ordinalOf(incarnationId: number): number {
    return this.incarnationIds.indexOf(incarnationId);
  }

  held(): HeldLog {
    return { appliedOffset: this.core.appliedOffset, pending: this.core.pendingEntries() };
  }

  /**
   * A request arriving: refused while down, queued while paused, else run on the node. `answer`
   * is called once: with what the node answered, or with a failure.
   */
  handle<Value>(label: string, run: (node: FollowerNode, reply: (value: Value) => void) => void, answer: (result: Value | Failure) => void): void {
    if (this.down) {
      this.context.log(`${label}: refused, process down`);
      answer({ failure: "refused" });
      return;
    }
    this.#whenRunning(
      () => {
        let owed = true;
        const fail = (failure: Failure) => {
          owed = false;
          answer(failure);
        };
        this.#owed.add(fail);
        run(this.node, (value) => {
          if (!owed) return;
          owed = false;
          this.#owed.delete(fail);
          this.#watchSnapshot();
          answer(value);
        });
      },
      () => answer({ failure: "reset" }),
    );
  }

  /**
   * A client read as GET /kv/:key serves it (src/node/read.ts); `done(null)` when the process is
   * down, refuses (a diverged follower), or crashes before answering.
   */
  read(key: string, done: (read: FollowerRead | null) => void): void {
    if (this.down) {
      done(null);
      return;
    }
    this.#whenRunning(
      () =>
        readCommitted(this.node, key, 0, this.node.timings.readWaitMs, (result) =>
          done(result.kind === "value" ? { stored: result.stored, commitOffset: this.core.commitOffset } : null),
        ),
      () => done(null),
    );
  }

  /** `processOnly`: the process dies (killed, out of memory) and its machine stays up, page cache and all. */
  crash(processOnly = false): void {
    const what = processOnly ? "process killed" : "crash";
    this.context.log(`${this.name} ${what} (incarnation ${this.incarnation}, held ${this.core.lastOffset}, applied ${this.core.appliedOffset})`);
    this.down = true;
    this.paused = false;
    this.pauseHeld = false;
    this.#timers.kill();
    if (processOnly) this.disk.processCrash();
    else this.disk.crash();
    const synced = this.disk.synced();
    this.heldAtCrash[this.incarnation] = { appliedOffset: synced.appliedOffset, pending: synced.pending.slice() };
    this.#snapshotsOfPastProcesses += this.node.core.snapshotsInstalled;
    const owed = [...this.#owed];
    this.#owed.clear();
    for (const fail of owed) fail({ failure: "reset" });
    const deferred = this.#deferred;
    this.#deferred = [];
    for (const item of deferred) item.abort();
  }

  /**
   * The power fails inside this process's next sync to its disk (the log's records written, none
   * of them acknowledged, part of them on disk; or a file being replaced), or `withinUs` from now
   * if it syncs nothing before; `crashed` runs once it is down. Inside a sync it is at times the
   * process alone that dies, its writes left in the page cache.
   */
  crashInNextSync(withinUs: number, crashed: () => void): void {
    const incarnation = this.incarnation;
    this.#crashArmed = true;
    const crash = (inSync: boolean): boolean => {
      if (!this.#crashArmed || this.down || this.incarnation !== incarnation) return false;
      this.disarmCrash();
      // Half the deaths inside a sync are the process's alone (kill -9 mid-fdatasync): what it wrote
      // stays in the page cache for the next process to find, unsynced. Not on a failing disk,
      // where the cache may show what a failed fdatasync lost, which no restart can tell.
      const processOnly = inSync && this.disk.files.syncFailureChance === 0 && this.context.rng.chance(0.5);
      if (inSync) this.context.log(`${this.name} ${processOnly ? "is killed" : "loses power"} while it syncs its disk`);
      this.crash(processOnly);
      crashed();
      return true;
    };
    this.disk.crashInNextSync(() => crash(true));
    this.context.queue.after(withinUs, () => crash(false));
  }

  /** Faults stop: a crash armed by crashInNextSync does not come. */
  disarmCrash(): void {
    this.#crashArmed = false;
    this.disk.cancelCrashInSync();
  }

  /** Starts a crashed process again as a new FollowerNode, from what its disk holds. */
  restart(): void {
    const corrupted = this.hooks.mayCorrupt(this) && this.context.rng.chance(corruptionChance) ? this.disk.corrupt() : null;
    if (corrupted) {
      this.context.log(`${this.name} disk: ${corrupted.what}`);
      this.hooks.lostSynced(this, corrupted.lost);
    }
    this.incarnation++;
    this.#timers = new ProcessTimers(this.context.queue);
    this.node = this.#startNode();
    this.#watchedState = this.core.state;
    this.hooks.watch(this, this.#watchedState);
    this.down = false;
    this.context.log(
      `${this.name} restart from its disk (incarnation ${this.incarnation}, log to ${this.core.lastOffset}, applied ${this.core.appliedOffset})`,
    );
  }

  pause(): void {
    this.paused = true;
    this.context.log(`${this.name} pause`);
  }

  resume(): void {
    this.paused = false;
    const deferred = this.#deferred;
    this.#deferred = [];
    this.context.log(`${this.name} resume, ${deferred.length} queued`);
    for (const item of deferred) item.run();
  }

  #startNode(): FollowerNode {
    const { context } = this;
    const log = (line: string) => context.log(`${this.name}: ${line}`);
    const { storage, stored } = this.disk.open(this.#timers, log);
    const node = new FollowerNode(nodeConfig(context.scenario, { role: "follower", nodeId: this.name }), {
      clock: context.clock,
      timers: this.#timers,
      random: context.rng,
      storage,
      stored,
      log,
      timings: context.scenario.timings,
      newCore: this.newCore,
    });
    this.incarnationIds[this.incarnation] = node.core.incarnation;
    return node;
  }

  /** A snapshot replaced the state: the checker watches the new one. */
  #watchSnapshot(): void {
    if (this.core.state === this.#watchedState) return;
    this.#watchedState = this.core.state;
    this.hooks.watch(this, this.#watchedState);
  }

  #whenRunning(run: () => void, abort: () => void): void {
    if (this.paused) this.#deferred.push({ run, abort });
    else run();
  }
}
