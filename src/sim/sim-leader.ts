import type { LeaderCore } from "../core/leader.ts";
import type { StoredValue } from "../core/state-machine.ts";
import { type WriteWaiter, WriteWaiters } from "../core/write-waiters.ts";
import type { ReplicateMessage, SnapshotChunk } from "../core/types.ts";
import type { SimContext } from "./context.ts";
import { formatChunk, formatMessage, formatReply, followerName } from "./format.ts";
import type { Network } from "./network.ts";
import type { Answer, Call, CallOwner, SimFollower } from "./sim-follower.ts";

/** What a client hears back for a write; `lost` is a broken connection (the leader process died). */
export type WriteOutcome =
  | { kind: "committed"; offset: number; acks: number }
  | { kind: "timeout"; offset: number; acks: number; required: number }
  | { kind: "lost"; offset: number };

/** A leader read: the stored value, 503 stale_read (the read barrier was not applied in time), or a broken connection. */
export type LeaderRead = { kind: "value"; stored: StoredValue | undefined } | { kind: "stale_read" } | { kind: "lost" };

/** A write a leader told its client was committed. */
export interface AckedWrite {
  key: string;
  value: string | null;
  offset: number;
  /** Followers that had to hold it: max(the client's quorum, WRITE_QUORUM). */
  required: number;
}

export interface LeaderObserver {
  /** Called at the moment a client is told its write committed, before anything else moves. */
  beforeAck(leader: SimLeader, write: AckedWrite): void;
  /** Called when a read is served, with what it returns. */
  onRead(leader: SimLeader, key: string, stored: StoredValue | undefined): void;
}

interface Waiter extends AckedWrite, WriteWaiter {
  done: (outcome: WriteOutcome) => void;
}

interface BarrierRead {
  key: string;
  settled: boolean;
  done: (read: LeaderRead) => void;
}

/**
 * One leader process as leader-node.ts runs it, around a LeaderCore: it pumps the core's messages
 * and snapshot chunks to the followers (on every write, reply and failure, and every half
 * heartbeat), gives each call a timeout that reports a failure to the core, answers a write once
 * it is committed and held by the quorum its client asked for (or with a timeout outcome), and
 * serves reads once its read barrier is applied (read-routes.ts).
 *
 * The process can die: its messages still waiting out their delay are lost with it (the node
 * delays them in-process), answers to it go nowhere, and its clients see a broken connection.
 * It can also be deposed: a new leader starts while this one runs on, unaware, for a while.
 */
export class SimLeader implements CallOwner {
  /** The node's own bookkeeping of writes waiting for their answer. */
  readonly #waiters = new WriteWaiters<Waiter>();
  /** Writes not answered yet, which a crash leaves indeterminate. */
  readonly #unanswered = new Set<Waiter>();
  #barrierReads: BarrierRead[] = [];
  #pumpScheduled = false;
  #dead = false;
  #deposed = false;

  constructor(
    readonly name: string,
    private readonly context: SimContext,
    readonly core: LeaderCore,
    private readonly followers: readonly SimFollower[],
    private readonly network: Network,
    private readonly observer: LeaderObserver,
  ) {}

  get dead(): boolean {
    return this.#dead;
  }

  get deposed(): boolean {
    return this.#deposed;
  }

  start(): void {
    const tickUs = Math.max(1000, Math.floor(this.context.scenario.heartbeatUs / 2));
    const tick = () => {
      if (this.#dead) return;
      this.#pump();
      this.context.queue.after(tickUs, tick);
    };
    tick();
  }

  /** The process dies: in-flight calls are lost, waiting clients see a broken connection. */
  crash(): void {
    if (this.#dead) return;
    this.#dead = true;
    const { core } = this;
    this.context.log(`${this.name} dies (e${core.epoch} last=${core.lastOffset} commit=${core.commitOffset}), ${this.#unanswered.size} writes left indeterminate`);
    for (const waiter of this.#unanswered) {
      waiter.settled = true;
      waiter.done({ kind: "lost", offset: waiter.offset });
    }
    this.#unanswered.clear();
    for (const read of this.#barrierReads) {
      read.settled = true;
      read.done({ kind: "lost" });
    }
    this.#barrierReads = [];
  }

  /** A new leader takes over; this process runs on, taking no new clients, until it is killed. */
  depose(): void {
    this.#deposed = true;
    this.context.log(`${this.name} deposed (e${this.core.epoch}): runs on unaware of its successor`);
  }

  write(key: string, value: string | null, quorum: number | undefined, done: (outcome: WriteOutcome) => void): void {
    const entry = this.core.propose(key, value);
    const required = Math.max(quorum ?? 0, this.core.writeQuorum);
    const waiter: Waiter = { key, value, offset: entry.offset, required, settled: false, done };
    this.context.log(`${this.name} propose ${entry.offset} ${key}=${value ?? "(delete)"} quorum=${required}`);
    this.#waiters.add(waiter);
    this.#unanswered.add(waiter);
    this.context.queue.after(this.context.scenario.clientTimeoutUs, () => {
      if (waiter.settled) return;
      waiter.settled = true;
      this.#answer(waiter, false);
    });
    this.#afterProgress();
    this.#schedulePump();
  }

  /** A client read: answered once the read barrier is applied, or refused after the read wait. */
  read(key: string, done: (read: LeaderRead) => void): void {
    const read: BarrierRead = { key, settled: false, done };
    if (this.core.state.appliedOffset >= this.core.readBarrierOffset) {
      this.#serve(read);
      return;
    }
    this.context.log(`${this.name} read ${key} waits for the read barrier ${this.core.readBarrierOffset} (applied ${this.core.state.appliedOffset})`);
    this.#barrierReads.push(read);
    this.context.queue.after(this.context.scenario.readWaitUs, () => {
      if (read.settled) return;
      read.settled = true;
      this.#barrierReads = this.#barrierReads.filter((other) => other !== read);
      this.context.log(`${this.name} read ${key}: stale_read, barrier ${this.core.readBarrierOffset} not applied`);
      done({ kind: "stale_read" });
    });
  }

  /** An answer from a follower (or the network's word that the connection broke). */
  onAnswer(call: Call, answer: Answer): void {
    const name = followerName(call.follower);
    const what = answer.kind === "reply" || answer.kind === "snapshot_reply" ? formatReply(answer.reply) : answer.kind === "failure" ? answer.reason : answer.kind;
    if (this.#dead) {
      this.context.log(`${this.name} ← ${name} #${call.id} ${what}: nobody listens, the process is gone`);
      return;
    }
    if (call.settled) {
      this.context.log(`${this.name} ← ${name} #${call.id} ${what}: ignored, call already settled`);
      return;
    }
    call.settled = true;
    const nowMs = this.context.nowMs;
    switch (answer.kind) {
      case "reply":
        this.core.onReply(call.follower, answer.reply, nowMs);
        break;
      case "snapshot_reply":
        this.core.onSnapshotReply(call.follower, answer.reply, nowMs);
        break;
      default:
        this.context.log(`${this.name} ← ${name} #${call.id} ${what}: failure`);
        this.core.onFailure(call.follower, nowMs);
        this.#schedulePump();
        return;
    }
    const progress = this.core.followers[call.follower]!;
    this.context.log(`${this.name} ← ${name} #${call.id} ${what}: ${progress.state} match=${progress.matchOffset} commit=${this.core.commitOffset}`);
    this.#afterProgress();
    this.#schedulePump();
  }

  #serve(read: BarrierRead): void {
    read.settled = true;
    const stored = this.core.state.get(read.key);
    this.observer.onRead(this, read.key, stored);
    read.done({ kind: "value", stored });
  }

  /** Answers a waiter already marked settled: committed, or timed out. */
  #answer(waiter: Waiter, committed: boolean): void {
    this.#unanswered.delete(waiter);
    const acks = this.core.ackCount(waiter.offset);
    if (committed) this.observer.beforeAck(this, waiter);
    this.context.log(`${this.name} ${committed ? "ack" : "timeout"} ${waiter.offset} ${waiter.key} acks=${acks}/${waiter.required}`);
    waiter.done(
      committed
        ? { kind: "committed", offset: waiter.offset, acks }
        : { kind: "timeout", offset: waiter.offset, acks, required: waiter.required },
    );
  }

  /** Answers every write that is now committed with enough acks (leader-node's #afterProgress), and reads past the barrier. */
  #afterProgress(): void {
    for (const waiter of this.#waiters.takeReady(this.core.commitOffset, this.#ackCount)) this.#answer(waiter, true);
    if (this.#barrierReads.length > 0 && this.core.state.appliedOffset >= this.core.readBarrierOffset) {
      const reads = this.#barrierReads;
      this.#barrierReads = [];
      for (const read of reads) this.#serve(read);
    }
  }

  #ackCount = (offset: number) => this.core.ackCount(offset);

  /** Writes and replies of one instant travel in one pump, like the node's setImmediate. */
  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    this.context.queue.after(0, () => {
      this.#pumpScheduled = false;
      if (!this.#dead) this.#pump();
    });
  }

  #pump(): void {
    const heartbeatMs = this.context.scenario.heartbeatUs / 1000;
    const nowMs = this.context.nowMs;
    for (let index = 0; index < this.followers.length; index++) {
      for (const message of this.core.takeMessages(index, nowMs, heartbeatMs)) this.#sendMessage(index, message);
      const chunk = this.core.takeSnapshotChunk(index, nowMs);
      if (chunk) this.#sendChunk(index, chunk);
    }
  }

  #sendMessage(index: number, message: ReplicateMessage): void {
    const call = this.#call(index, formatMessage(message));
    this.#carry(call, () => this.followers[index]!.deliver(call, message));
  }

  #sendChunk(index: number, chunk: SnapshotChunk): void {
    const call = this.#call(index, formatChunk(chunk));
    this.#carry(call, () => this.followers[index]!.deliverSnapshot(call, chunk));
  }

  #carry(call: Call, deliver: () => void): void {
    const label = `${this.name} #${call.id} → ${followerName(call.follower)}`;
    this.network.carry(call.follower, label, this.context.scenario.requestDelay, () => {
      if (this.#dead) this.context.log(`net  ${label} lost: its sender died while it waited out its delay`);
      else deliver();
    });
  }

  /** A new call to follower `index`, which fails on its own after the call timeout. */
  #call(index: number, what: string): Call {
    const call: Call = { id: this.context.nextCallId(), follower: index, owner: this, settled: false };
    const name = followerName(index);
    this.context.log(`${this.name} → ${name} #${call.id} ${what}`);
    this.context.queue.after(this.context.scenario.replicateTimeoutUs, () => {
      if (call.settled || this.#dead) return;
      call.settled = true;
      this.context.log(`${this.name} #${call.id} → ${name} timed out`);
      this.core.onFailure(index, this.context.nowMs);
      this.#schedulePump();
    });
    return call;
  }
}
