import type { LeaderCore, LeaderOptions } from "../core/leader.ts";
import type { RecoveryPolicy } from "../core/recovery.ts";
import type { NodeTimings } from "../node/timings.ts";
import type { StoredValue } from "../core/state-machine.ts";
import type { WriteOptions, WriteOutcome } from "../node/leader-env.ts";
import { LeaderNode } from "../node/leader-node.ts";
import { readCommitted } from "../node/read.ts";
import { ownUrl, type Recovery, RecoveryFailed, runRecovery, storedRecoveryData } from "../node/recovery.ts";
import { MemoryStorage, type Storage } from "../node/storage.ts";
import type { SimContext } from "./context.ts";
import type { FollowerHost, HeldLog } from "./follower-host.ts";
import type { Network } from "./network.ts";
import { nodeConfig } from "./node-config.ts";
import type { SimDisk } from "./sim-disk.ts";
import { ProcessTimers, SimDelays } from "./sim-env.ts";
import { SimTransport } from "./sim-transport.ts";

/** What a client hears back for a write; `lost` is a broken connection (the leader process died). */
export type ClientWriteOutcome = WriteOutcome | { kind: "lost"; offset: number };

/** A leader read: the stored value, 503 stale_read (the read barrier was not applied in time), or a broken connection. */
export type LeaderRead = { kind: "value"; stored: StoredValue | undefined } | { kind: "stale_read" } | { kind: "lost" };

/** A write a leader told its client was committed. */
export interface AckedWrite {
  key: string;
  value: string | null;
  offset: number;
  /** Followers that had to hold it: max(the client's quorum, WRITE_QUORUM). */
  required: number;
  /** A conditional write's or a transaction's condition, as its entry carries it. */
  condition?: WriteOptions["condition"];
}

/** A follower that answered the recovery's last round, and what it held when it answered (for the checker). */
export interface PolledFollower {
  position: Recovery["positions"][number];
  held: HeldLog;
  /** Which of the follower's processes answered (FollowerHost.incarnation). */
  incarnation: number;
}

export interface LeaderObserver {
  /** Called at the moment a client is told its write committed, before anything else moves. */
  beforeAck(leader: LeaderProcess, write: AckedWrite): void;
  /** Called when a read is served, with what it returns. */
  onRead(leader: LeaderProcess, key: string, stored: StoredValue | undefined): void;
}

/** What a leader process is built from: the production code, or a mutant of it. */
export interface LeaderBuild {
  newCore?: (options: LeaderOptions) => LeaderCore;
  policy?: RecoveryPolicy;
  /** Recovery's waits, over the seed's (a mutant restores an old one). */
  recoveryTimings?: Partial<NodeTimings>;
}

/**
 * One leader process as src/main.ts runs it: with DATA_DIR (Scenario.leaderStorage) DiskStorage
 * opens its machine's disk and the production recovery (src/node/recovery.ts) weighs what it holds
 * beside its followers' data; without, it recovers from them alone. Then the production LeaderNode serves, on the process's own simulated timers and Transport. It can
 * die: its timers fall silent, messages still waiting out their delay are lost with it, answers
 * to it go nowhere, and its clients see a broken connection. It can also be deposed: a new
 * leader starts while this one runs on, unaware, for a while.
 */
export class LeaderProcess {
  node: LeaderNode | null = null;
  readonly transport: SimTransport;
  #timers: ProcessTimers;
  #recovery: { abort(): void } | null = null;
  /** Opened on the machine's disk when recovery starts; the serving node stores its log there. */
  #storage: Storage | null = null;
  #dead = false;
  #deposed = false;
  /** Client calls not answered yet, which a crash leaves indeterminate. */
  readonly #unanswered = new Set<() => void>();

  constructor(
    readonly name: string,
    private readonly context: SimContext,
    private readonly followers: readonly FollowerHost[],
    network: Network,
    private readonly observer: LeaderObserver,
    private readonly build: LeaderBuild,
    readonly disk: SimDisk,
  ) {
    this.#timers = new ProcessTimers(context.queue);
    this.transport = new SimTransport(name, context, network, followers, this.#timers);
  }

  get dead(): boolean {
    return this.#dead;
  }

  get deposed(): boolean {
    return this.#deposed;
  }

  /** The serving node's core (only once recovered). */
  get core(): LeaderCore {
    return this.node!.core;
  }

  /** Recovers from the followers, then calls `ready`, or `failed` when recovery gave up (unless the process died first). */
  recover(ready: (recovery: Recovery, polled: PolledFollower[]) => void, failed: (reason: string) => void): void {
    const { context } = this;
    const log = (line: string) => context.log(`${this.name}: ${line}`);
    const opened = context.scenario.leaderStorage === "disk" ? this.disk.open(this.#timers, log) : { storage: new MemoryStorage(), stored: undefined };
    this.#storage = opened.storage;
    this.#recovery = runRecovery(
      this.name,
      this.followers.map((follower) => follower.name),
      context.scenario.writeQuorum,
      {
        clock: context.clock,
        timers: this.#timers,
        transport: this.transport,
        log,
        timings: { ...context.scenario.timings, ...this.build.recoveryTimings },
        policy: this.build.policy,
        own: opened.stored && storedRecoveryData(opened.stored),
      },
      (recovery) => {
        this.#recovery = null;
        if (recovery instanceof RecoveryFailed) {
          failed(recovery.message);
          return;
        }
        // What the decision stood on: the followers of the last round still candidates then.
        // The leader's own storage is a candidate too, but not a follower the checker can look up.
        const followersPolled = recovery.candidates.filter((position) => position.url !== ownUrl);
        const polled = followersPolled.map((position) => ({ position, ...this.transport.heldAtFence.get(position.url)! }));
        ready(recovery, polled);
      },
    );
  }

  /** Starts the LeaderNode on what recovery found. */
  serve(recovery: Recovery): LeaderNode {
    const { context } = this;
    const config = nodeConfig(context.scenario, { role: "leader", nodeId: this.name, followers: this.followers.map((follower) => follower.name) });
    this.node = new LeaderNode(
      config,
      {
        clock: context.clock,
        timers: this.#timers,
        random: context.rng,
        transport: this.transport,
        storage: this.#storage!,
        delays: new SimDelays(this.#timers),
        log: (line) => context.log(`${this.name}: ${line}`),
        timings: context.scenario.timings,
        newCore: this.build.newCore,
      },
      recovery,
    );
    return this.node;
  }

  /** The process dies: its timers and calls fall silent, waiting clients see a broken connection. */
  crash(): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#timers.kill();
    this.#recovery?.abort();
    const node = this.node;
    const where = node ? `e${node.epoch} last=${node.lastOffset} commit=${node.commitOffset}` : "while recovering";
    this.context.log(`${this.name} dies (${where}), ${this.#unanswered.size} client calls left indeterminate`);
    const unanswered = [...this.#unanswered];
    this.#unanswered.clear();
    for (const lose of unanswered) lose();
  }

  /** A new leader takes over; this process runs on, taking no new clients, until it is killed. */
  depose(): void {
    this.#deposed = true;
    this.context.log(`${this.name} deposed (e${this.node?.epoch}): runs on unaware of its successor`);
  }

  /** A client write; `condition` makes it a conditional write (ifOffset) or a transaction (key "", no value). */
  write(
    key: string,
    value: string | null,
    quorum: number | undefined,
    done: (outcome: ClientWriteOutcome) => void,
    condition?: WriteOptions["condition"],
  ): void {
    const node = this.node!;
    let offset = 0;
    const lose = () => done({ kind: "lost", offset });
    this.#unanswered.add(lose);
    const proposed = node.propose(key, value, { quorum, condition }, (outcome) => {
      this.#unanswered.delete(lose);
      if (outcome.kind === "deposed" || outcome.kind === "overloaded" || outcome.kind === "storage_unavailable") {
        this.context.log(`${this.name} refuses write ${key}: ${outcome.kind}`);
      } else {
        if (outcome.kind === "committed")
          this.observer.beforeAck(this, { key, value, offset: outcome.offset, required: outcome.required, ...(condition ? { condition } : {}) });
        this.context.log(`${this.name} ${outcome.kind === "committed" ? "ack" : "timeout"} ${outcome.offset} ${key} acks=${outcome.acks}/${outcome.required}`);
      }
      done(outcome);
    });
    if (proposed === null) return;
    offset = proposed;
    if (this.#unanswered.has(lose))
      this.context.log(`${this.name} propose ${offset} ${key}=${value ?? "(delete)"} quorum=${Math.max(quorum ?? 0, node.core.writeQuorum)}`);
  }

  /** A client read, as GET /kv/:key serves it (src/node/read.ts). */
  read(key: string, done: (read: LeaderRead) => void): void {
    const node = this.node!;
    const lose = () => done({ kind: "lost" });
    this.#unanswered.add(lose);
    readCommitted(node, key, 0, node.timings.readWaitMs, (result) => {
      this.#unanswered.delete(lose);
      if (result.kind !== "value") {
        const why = result.kind === "refused" ? result.reason : `barrier ${node.readBarrierOffset} not applied`;
        this.context.log(`${this.name} read ${key}: stale_read, ${why}`);
        done({ kind: "stale_read" });
        return;
      }
      this.observer.onRead(this, key, result.stored);
      done({ kind: "value", stored: result.stored });
    });
  }
}
