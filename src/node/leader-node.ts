import { constants } from "../core/constants.ts";
import { LeaderCore } from "../core/leader.ts";
import { type WriteWaiter, WriteWaiters } from "../core/write-waiters.ts";
import type { Entry, ReplicateMessage, SnapshotChunk } from "../core/types.ts";
import type { Config } from "../config.ts";
import { DelayScheduler } from "./delay-scheduler.ts";
import { OffsetWatch } from "./offset-watch.ts";
import type { Recovery } from "./recovery.ts";
import type { ReadRefusal, ServingNode } from "./serving-node.ts";
import type { Transport } from "./transport.ts";

/**
 * `timeout` is indeterminate (with `deposedBy` when a newer leader deposed this one meanwhile: it
 * may have taken the write over); `deposed` and `overloaded` (MAX_PENDING_WRITES reached):
 * refused before anything was appended.
 */
export type WriteOutcome =
  | { kind: "committed"; offset: number; acks: number }
  | { kind: "timeout"; offset: number; acks: number; required: number; deposedBy?: number }
  | { kind: "deposed"; epoch: number }
  | { kind: "overloaded"; bound: "uncommitted entries" | "waiting writes"; limit: number };

interface Waiter extends WriteWaiter {
  resolve: (outcome: WriteOutcome) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface Delay {
  minDelayMs: number;
  maxDelayMs: number;
}

/** A replicate request gives up after this; the follower itself waits at most gapWaitMs. */
const replicateTimeoutMs = constants.gapWaitMs + 2000;

/**
 * The leader process: drives LeaderCore with real time, sends its messages through the
 * Transport after the simulated delay, and answers each write once it is committed and acked by
 * the quorum the client asked for (or with a timeout outcome, never silently).
 */
export class LeaderNode implements ServingNode {
  readonly role = "leader";
  readonly core: LeaderCore;
  readonly followerUrls: readonly string[];
  readonly followerIds: string[];
  readonly applied: OffsetWatch;
  readonly delay: Delay;
  readonly scheduler = new DelayScheduler();
  readonly #waiters = new WriteWaiters<Waiter>();
  #pumpScheduled = false;
  #deposedLogged = false;
  #heartbeatTimer: ReturnType<typeof setInterval> | null = null;

  constructor(
    readonly config: Config,
    private readonly transport: Transport,
    recovery: Recovery = { epoch: 1 },
  ) {
    this.followerUrls = config.followers;
    this.followerIds = config.followers.map((url) => url.replace(/^https?:\/\//, ""));
    this.core = new LeaderCore({
      id: config.nodeId,
      epoch: recovery.epoch,
      followerCount: config.followers.length,
      writeQuorum: config.writeQuorum,
      logRetention: config.logRetention,
      uncommittedEntriesMax: config.maxPendingWrites,
      recovered: recovery.recovered,
      writeQuorumFloor: recovery.writeQuorumFloor,
    });
    this.delay = { minDelayMs: config.minDelayMs, maxDelayMs: config.maxDelayMs };
    this.applied = new OffsetWatch(() => this.core.state.appliedOffset);
  }

  get state() {
    return this.core.state;
  }

  get epoch(): number {
    return this.core.epoch;
  }

  get lastOffset(): number {
    return this.core.lastOffset;
  }

  get commitOffset(): number {
    return this.core.commitOffset;
  }

  get lastEntryEpoch(): number {
    return this.core.log.epochAt(this.core.lastOffset);
  }

  get readBarrierOffset(): number {
    return this.core.readBarrierOffset;
  }

  get readRefusal(): ReadRefusal | null {
    const deposedBy = this.core.deposedBy;
    if (deposedBy === null) return null;
    return { reason: "deposed", message: `this leader was deposed by epoch ${deposedBy}: its state may be stale; read from the new leader` };
  }

  status(): Record<string, unknown> {
    const nowMs = performance.now();
    return {
      id: this.config.nodeId,
      role: this.core.deposedBy === null ? this.role : "deposed",
      deposedBy: this.core.deposedBy,
      epoch: this.epoch,
      lastOffset: this.lastOffset,
      commitOffset: this.commitOffset,
      logFirstOffset: this.core.log.firstOffset,
      keys: this.state.size,
      digest: this.state.digest().digest,
      writeQuorum: this.core.writeQuorum,
      pendingWriteQuorum: this.core.pendingWriteQuorum,
      writeQuorumFloor: this.core.writeQuorumFloor,
      uncommittedEntries: this.core.uncommittedEntries,
      delay: { ...this.delay, measured: this.scheduler.quartiles() },
      followers: this.core.followers.map((progress, index) => ({
        id: this.followerIds[index],
        url: this.followerUrls[index],
        state: progress.diverged ? "diverged" : progress.state === "streaming" ? "streaming" : progress.state === "probe" ? "catching_up" : "snapshot",
        matchOffset: progress.matchOffset,
        lag: this.lastOffset - progress.matchOffset,
        healthy: progress.healthy(nowMs),
        lastAckMsAgo: Number.isFinite(progress.lastReplyAtMs) ? Math.round(nowMs - progress.lastReplyAtMs) : null,
        partialResyncs: progress.partialResyncs,
        fullResyncs: progress.fullResyncs,
        lastFullResyncReason: progress.lastFullResyncReason,
      })),
    };
  }

  start(): void {
    this.#heartbeatTimer = setInterval(() => this.#pump(), Math.max(1, this.config.heartbeatMs / 2));
    this.#pump();
  }

  stop(): void {
    if (this.#heartbeatTimer) clearInterval(this.#heartbeatTimer);
    this.#heartbeatTimer = null;
    this.applied.close();
    this.scheduler.stop();
  }

  /** Appends a write (null value = delete) and waits for max(quorum, WRITE_QUORUM) acks. */
  write(key: string, value: string | null, options: { quorum?: number; timeoutMs?: number } = {}): Promise<WriteOutcome> {
    const deposedBy = this.core.deposedBy;
    if (deposedBy !== null) return Promise.resolve({ kind: "deposed", epoch: deposedBy });
    const limit = this.config.maxPendingWrites;
    if (!this.core.canPropose()) return Promise.resolve({ kind: "overloaded", bound: "uncommitted entries", limit });
    if (this.#waiters.size >= limit) return Promise.resolve({ kind: "overloaded", bound: "waiting writes", limit });
    return this.#await(this.core.propose(key, value), options);
  }

  /**
   * A higher write quorum takes effect at once (null); a lower one once the change is held by
   * the current quorum (see LeaderCore.setWriteQuorum): the outcome of that marker write.
   */
  setWriteQuorum(quorum: number): Promise<WriteOutcome> | null {
    const deposedBy = this.core.deposedBy;
    if (deposedBy !== null) return Promise.resolve({ kind: "deposed", epoch: deposedBy });
    const marker = this.core.setWriteQuorum(quorum);
    this.#afterProgress();
    if (!marker) return null;
    return this.#await(marker, {});
  }

  #await(entry: Entry, options: { quorum?: number; timeoutMs?: number }): Promise<WriteOutcome> {
    const required = Math.max(options.quorum ?? 0, this.core.writeQuorum);
    const timeoutMs = options.timeoutMs ?? this.config.quorumTimeoutMs;
    const promise = new Promise<WriteOutcome>((resolve) => {
      const waiter: Waiter = {
        offset: entry.offset,
        required,
        settled: false,
        resolve,
        timer: setTimeout(() => {
          if (waiter.settled) return;
          waiter.settled = true;
          this.#answer(waiter, false);
        }, timeoutMs),
      };
      this.#waiters.add(waiter);
    });
    this.#afterProgress();
    this.#schedulePump();
    return promise;
  }

  setDelay(delay: Partial<Delay>): void {
    Object.assign(this.delay, delay);
  }

  /** Resolves a waiter already marked settled: committed, or timed out. */
  #answer(waiter: Waiter, committed: boolean): void {
    clearTimeout(waiter.timer);
    const acks = this.core.ackCount(waiter.offset);
    const deposedBy = this.core.deposedBy ?? undefined;
    waiter.resolve(
      committed
        ? { kind: "committed", offset: waiter.offset, acks }
        : { kind: "timeout", offset: waiter.offset, acks, required: waiter.required, ...(deposedBy ? { deposedBy } : {}) },
    );
  }

  /** Answers every write that is now committed with enough acks; once deposed, every write still waiting. */
  #afterProgress(): void {
    this.applied.notify();
    if (this.core.deposedBy !== null) {
      if (!this.#deposedLogged) console.log(`${this.config.nodeId}: deposed by epoch ${this.core.deposedBy}; refusing reads and writes`);
      this.#deposedLogged = true;
      for (const waiter of this.#waiters.takeAll()) this.#answer(waiter, false);
      return;
    }
    for (const waiter of this.#waiters.takeReady(this.core.commitOffset, this.#ackCount)) this.#answer(waiter, true);
  }

  #ackCount = (offset: number) => this.core.ackCount(offset);

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    // Writes that arrive in the same tick travel in one message.
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    const nowMs = performance.now();
    for (let index = 0; index < this.followerUrls.length; index++) {
      const progress = this.core.followers[index]!;
      const fullResyncs = progress.fullResyncs;
      for (const message of this.core.takeMessages(index, nowMs, this.config.heartbeatMs)) this.#send(index, message);
      if (progress.fullResyncs > fullResyncs) {
        console.log(`${this.config.nodeId}: full resync of ${this.followerIds[index]} by snapshot: ${progress.lastFullResyncReason}`);
      }
      const chunk = this.core.takeSnapshotChunk(index, nowMs);
      if (chunk) this.#sendChunk(index, chunk);
    }
  }

  #send(index: number, message: ReplicateMessage): void {
    this.#afterDelay(() =>
      this.transport.replicate(this.followerUrls[index]!, message, replicateTimeoutMs).then(
        ({ reply, nodeId }) => this.#onReply(index, nodeId, () => this.core.onReply(index, reply, performance.now())),
        () => this.#onFailure(index),
      ),
    );
  }

  #sendChunk(index: number, chunk: SnapshotChunk): void {
    this.#afterDelay(() =>
      this.transport.snapshot(this.followerUrls[index]!, chunk, replicateTimeoutMs).then(
        ({ reply, nodeId }) => this.#onReply(index, nodeId, () => this.core.onSnapshotReply(index, reply, performance.now())),
        () => this.#onFailure(index),
      ),
    );
  }

  #onReply(index: number, nodeId: string | undefined, apply: () => void): void {
    if (nodeId) this.followerIds[index] = nodeId;
    apply();
    this.#afterProgress();
    this.#schedulePump();
  }

  #onFailure(index: number): void {
    this.core.onFailure(index, performance.now());
    this.#schedulePump();
  }

  /** Every leader→follower message waits its own draw of U(minDelayMs, maxDelayMs) (DESIGN §6). */
  #afterDelay(send: () => void): void {
    const { minDelayMs, maxDelayMs } = this.delay;
    if (maxDelayMs <= 0) send();
    else this.scheduler.after(minDelayMs + Math.random() * (maxDelayMs - minDelayMs), send);
  }
}
