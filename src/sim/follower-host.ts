import type { FollowerCore } from "../core/follower.ts";
import type { StateMachine, StoredValue } from "../core/state-machine.ts";
import type { Entry } from "../core/types.ts";
import { FollowerNode } from "../node/follower-node.ts";
import { readCommitted } from "../node/read.ts";
import { MemoryStorage } from "../node/storage.ts";
import type { SimContext } from "./context.ts";
import { followerName } from "./format.ts";
import { nodeConfig } from "./node-config.ts";
import { ProcessTimers } from "./sim-env.ts";

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
  /** The process is about to lose everything it holds. */
  crashing(follower: FollowerHost, held: HeldLog): void;
}

interface Deferred {
  run(): void;
  abort(): void;
}

/**
 * The machine one follower runs on: it starts the production FollowerNode (src/node/) on
 * simulated timers, randomness and memory storage, and hands it the requests the network
 * delivers. The process can crash (its timers fall silent, requests it had not answered fail
 * as a reset connection, and it restarts empty as a new FollowerNode: followers keep no disk)
 * and pause (requests queue until it resumes).
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
  /** What each past incarnation held when it crashed. */
  readonly heldAtCrash: HeldLog[] = [];
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

  crash(): void {
    this.context.log(`${this.name} crash (incarnation ${this.incarnation}, held ${this.core.lastOffset}, applied ${this.core.appliedOffset})`);
    const held = this.held();
    this.hooks.crashing(this, held);
    this.heldAtCrash[this.incarnation] = held;
    this.down = true;
    this.paused = false;
    this.#timers.kill();
    this.#snapshotsOfPastProcesses += this.node.core.snapshotsInstalled;
    const owed = [...this.#owed];
    this.#owed.clear();
    for (const fail of owed) fail({ failure: "reset" });
    const deferred = this.#deferred;
    this.#deferred = [];
    for (const item of deferred) item.abort();
  }

  /** Starts a crashed process again, empty, as a new FollowerNode. */
  restart(): void {
    this.incarnation++;
    this.#timers = new ProcessTimers(this.context.queue);
    this.node = this.#startNode();
    this.#watchedState = this.core.state;
    this.hooks.watch(this, this.#watchedState);
    this.down = false;
    this.context.log(`${this.name} restart empty (incarnation ${this.incarnation})`);
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
    const node = new FollowerNode(nodeConfig(context.scenario, { role: "follower", nodeId: this.name }), {
      clock: context.clock,
      timers: this.#timers,
      random: context.rng,
      storage: new MemoryStorage(),
      log: (line) => context.log(`${this.name}: ${line}`),
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
