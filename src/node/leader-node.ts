import { LeaderCore, type LeaderOptions } from "../core/leader.ts";
import { leaderReady } from "../core/leader-ready.ts";
import type { ApplyOutcome } from "../core/txn.ts";
import type { Entry, ReplicateMessage, SnapshotChunk } from "../core/types.ts";
import { type WriteWaiter, WriteWaiters } from "../core/write-waiters.ts";
import type { Config } from "../config.ts";
import type { TimerHandle } from "./env.ts";
import type { LeaderEnv, LeaderStart, WriteOptions, WriteOutcome } from "./leader-env.ts";
import { leaderStatus } from "./leader-status.ts";
import { OffsetWatch } from "./offset-watch.ts";
import { PendingReads } from "./pending-reads.ts";
import type { ReadConfirmation, ReadRefusal, ServingNode } from "./serving-node.ts";
import { type NodeTimings, nodeTimings } from "./timings.ts";
import { TransportError } from "./transport.ts";

interface Waiter extends WriteWaiter {
  done: (outcome: WriteOutcome) => void;
  timer: TimerHandle;
  decided?: ApplyOutcome;
}

type Delay = { minDelayMs: number; maxDelayMs: number };

/**
 * The leader process: drives LeaderCore on the injected clock and timers, stores and sends what
 * its Ready says (each message after the simulated delay), and answers each write once it is
 * committed and acked by the quorum the client asked for (or with a timeout outcome, never
 * silently).
 */
export class LeaderNode implements ServingNode {
  readonly role = "leader";
  readonly core: LeaderCore;
  readonly followerUrls: readonly string[];
  readonly followerIds: string[];
  readonly applied: OffsetWatch;
  readonly delay: Delay;
  readonly timings: NodeTimings;
  readonly #env: LeaderEnv;
  readonly #waiters = new WriteWaiters<Waiter>();
  readonly #reads: PendingReads;
  /** Waiters of conditional writes by offset, until their entry is applied (bounded as the waiters are). */
  readonly #conditional = new Map<number, Waiter>();
  #pumpScheduled = false;
  #heartbeatTimer: TimerHandle | null = null;
  /** Wakes the pump when a commit no batch carried is due to be announced (LeaderCore.commitAnnounceDueMs), and when. */
  #announceTimer: TimerHandle | null = null;
  #announceAtMs = Number.POSITIVE_INFINITY;
  #stopped = false;
  #deposedLogged = false;
  /** Offset of the snapshot last stored. */
  #snapshotOffset = 0;

  constructor(
    readonly config: Config,
    env: LeaderEnv,
    start: LeaderStart = { epoch: 1 },
  ) {
    this.#env = env;
    this.#reads = new PendingReads(env.timers);
    this.timings = { ...nodeTimings, ...env.timings };
    this.followerUrls = config.followers;
    this.followerIds = config.followers.map((url) => url.replace(/^https?:\/\//, ""));
    const options: LeaderOptions = {
      id: start.id ?? config.nodeId,
      epoch: start.epoch,
      followerCount: config.followers.length,
      writeQuorum: config.writeQuorum,
      logRetention: config.logRetention,
      uncommittedEntriesMax: config.maxPendingWrites,
      recovered: start.recovered,
      writeQuorumFloor: start.writeQuorumFloor,
      commitsOnlyStored: true,
    };
    this.core = env.newCore ? env.newCore(options) : new LeaderCore(options);
    this.delay = { minDelayMs: config.minDelayMs, maxDelayMs: config.maxDelayMs };
    this.applied = new OffsetWatch(() => this.core.state.appliedOffset, env.timers);
    // The stored log starts over from what this leader recovered (its own old log may hold entries
    // the followers do not): the recovered state as a snapshot, then its log as pump stores it.
    env.storage.truncateAfter(this.state.appliedOffset);
    // Its epoch too: a restart leads above it, even if every follower has forgotten theirs.
    env.storage.promiseEpoch(this.core.epoch);
    env.storage.keepWriteQuorum(this.core.writeQuorum, this.core.writeQuorumFloor);
    this.#saveSnapshot();
  }

  /** Stores the applied state as a snapshot (compaction: the stored log before it is dropped). */
  #saveSnapshot(): void {
    const state = this.state;
    this.#snapshotOffset = state.appliedOffset;
    this.#env.storage.saveSnapshot({ offset: state.appliedOffset, epoch: state.appliedEpoch, pairs: state.snapshotPairs() });
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
    return leaderStatus(this, this.#env);
  }

  start(): void {
    this.#heartbeatTimer = this.#env.timers.every(Math.max(1, this.config.heartbeatMs / 2), () => this.#pump());
    this.#pump();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#heartbeatTimer !== null) this.#env.timers.cancel(this.#heartbeatTimer);
    if (this.#announceTimer !== null) this.#env.timers.cancel(this.#announceTimer);
    this.#heartbeatTimer = null;
    this.#announceTimer = null;
    this.applied.close();
    this.#reads.refuseAll();
    this.#env.delays.stop();
    this.#env.transport.close();
  }

  /**
   * Among PEERS, leadership ended (a newer epoch, or a handover): every write still waiting is
   * answered as indeterminate (the next leader may have taken it over), then the node stops. The
   * follower it becomes keeps this log, so entries not yet handed to storage (the pump had not run)
   * go there now: stored after a hole, what followed them was cut at the next start.
   */
  abdicate(): void {
    const unstored = this.core.takeEntriesToStore();
    if (unstored.length > 0) this.#env.storage.appendEntries(unstored);
    for (const waiter of this.#waiters.takeAll()) this.#answer(waiter, false);
    this.stop();
  }

  /** Appends a write (null value = delete) and waits for max(quorum, WRITE_QUORUM) acks. */
  write(key: string, value: string | null, options: WriteOptions = {}): Promise<WriteOutcome> {
    return new Promise((resolve) => this.propose(key, value, options, resolve));
  }

  /**
   * `write` with a callback, called once: the path the simulator drives without a microtask
   * queue. Returns the write's offset, or null when refused (a deposed leader, or a bound reached).
   */
  propose(key: string, value: string | null, options: WriteOptions, answer: (outcome: WriteOutcome) => void): number | null {
    const { observer, clock } = this.#env;
    const arrivedMs = observer ? clock.nowMs() : 0;
    const done = observer
      ? (outcome: WriteOutcome) => {
          observer.writeAnswered(outcome.kind, (clock.nowMs() - arrivedMs) / 1000);
          answer(outcome);
        }
      : answer;
    const deposedBy = this.core.deposedBy;
    const limit = this.config.maxPendingWrites;
    const storageUnavailable = this.#env.storage.unavailable;
    const refusal: WriteOutcome | null =
      deposedBy !== null
        ? { kind: "deposed", epoch: deposedBy }
        : storageUnavailable !== null
          ? { kind: "storage_unavailable", reason: storageUnavailable }
          : !this.core.canPropose()
            ? { kind: "overloaded", bound: "uncommitted entries", limit }
            : this.#waiters.size >= limit
              ? { kind: "overloaded", bound: "waiting writes", limit }
              : null;
    if (refusal) {
      done(refusal);
      return null;
    }
    return this.#await(this.core.propose(key, value, options.condition), options, done);
  }

  /**
   * A higher write quorum takes effect at once (`done(null)`); a lower one once the change is
   * held by the current quorum (see LeaderCore.setWriteQuorum): the outcome of that marker write.
   */
  setWriteQuorum(quorum: number, done: (outcome: WriteOutcome | null) => void = () => {}): void {
    const deposedBy = this.core.deposedBy;
    if (deposedBy !== null) {
      done({ kind: "deposed", epoch: deposedBy });
      return;
    }
    this.#env.log(`write quorum ${this.core.writeQuorum} → ${quorum} requested`, {
      event: "config_changed",
      fields: { writeQuorum: quorum, from: this.core.writeQuorum },
    });
    const marker = this.core.setWriteQuorum(quorum);
    // Kept as asked for (a lowering included): restarted, this node reports it to a candidate, who takes it the same way.
    this.#env.storage.keepWriteQuorum(quorum, this.core.writeQuorumFloor);
    this.#afterProgress();
    if (!marker) done(null);
    else this.#await(marker, {}, done);
  }

  #await(entry: Entry, options: WriteOptions, done: (outcome: WriteOutcome) => void): number {
    const required = Math.max(options.quorum ?? 0, this.core.writeQuorum);
    const waiter: Waiter = {
      offset: entry.offset,
      required,
      settled: false,
      done,
      timer: this.#env.timers.after(options.timeoutMs ?? this.config.quorumTimeoutMs, () => {
        if (waiter.settled) return;
        waiter.settled = true;
        this.#answer(waiter, false);
      }),
    };
    this.#waiters.add(waiter);
    if (options.condition) this.#conditional.set(entry.offset, waiter);
    this.#afterProgress();
    this.#schedulePump();
    return entry.offset;
  }

  /**
   * ReadIndex (Raft §6.4): a read is served at the commit offset it arrived at, once enough
   * followers (LeaderCore.readQuorum) answered in this epoch a message sent after it arrived, so
   * that no newer leader can have committed anything before it. Every read waiting at one moment
   * shares one round of messages; `unconfirmed` after `waitMs`, `deposed` when a follower answers
   * with a newer epoch meanwhile.
   */
  confirmRead(waitMs: number, done: (confirmation: ReadConfirmation) => void): void {
    const refusal = this.readRefusal;
    if (refusal) {
      done({ kind: "refused", ...refusal });
      return;
    }
    if (this.#reads.full) {
      done({ kind: "overloaded" });
      return;
    }
    const round = this.core.openRead();
    const readIndex = this.core.commitOffset;
    if (round <= this.core.readsConfirmedRound) {
      done({ kind: "confirmed", readIndex });
      return;
    }
    this.#reads.add(round, readIndex, waitMs, done);
    this.#schedulePump();
  }

  setDelay(delay: Partial<Delay>): void {
    const changed = Object.entries(delay).some(([name, value]) => this.delay[name as keyof Delay] !== value);
    Object.assign(this.delay, delay);
    if (changed)
      this.#env.log(`simulated delay now U(${this.delay.minDelayMs}, ${this.delay.maxDelayMs}) ms`, { event: "config_changed", fields: { ...this.delay } });
  }

  /** Resolves a waiter already marked settled: committed, or timed out. */
  #answer(waiter: Waiter, committed: boolean): void {
    this.#env.timers.cancel(waiter.timer);
    this.#conditional.delete(waiter.offset);
    const acks = this.core.ackCount(waiter.offset);
    const deposedBy = this.core.deposedBy ?? undefined;
    waiter.done(
      committed
        ? { kind: "committed", offset: waiter.offset, acks, required: waiter.required, ...(waiter.decided ? { decided: waiter.decided } : {}) }
        : { kind: "timeout", offset: waiter.offset, acks, required: waiter.required, ...(deposedBy ? { deposedBy } : {}) },
    );
  }

  /** Answers every write that is now committed with enough acks; once deposed, every write still waiting. */
  #afterProgress(): void {
    for (const { offset, outcome } of this.core.takeOutcomes()) {
      const waiter = this.#conditional.get(offset);
      if (waiter) waiter.decided = outcome;
    }
    this.applied.notify();
    if (this.core.deposedBy !== null) {
      if (!this.#deposedLogged) {
        this.#env.log(`deposed by epoch ${this.core.deposedBy}; refusing reads and writes`, {
          event: "deposed",
          level: "warn",
          fields: { deposedBy: this.core.deposedBy },
        });
      }
      this.#deposedLogged = true;
      for (const waiter of this.#waiters.takeAll()) this.#answer(waiter, false);
      const refusal = this.readRefusal!;
      this.#reads.refuseAll({ kind: "refused", ...refusal });
      return;
    }
    for (const waiter of this.#waiters.takeReady(this.core.commitOffset, this.#ackCount)) this.#answer(waiter, true);
    this.#reads.confirmUpTo(this.core.readsConfirmedRound);
  }

  #ackCount = (offset: number) => this.core.ackCount(offset);

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    // Writes that arrive in the same tick travel in one message.
    this.#env.timers.soon(() => {
      this.#pumpScheduled = false;
      if (!this.#stopped) this.#pump();
    });
  }

  #pump(): void {
    const nowMs = this.#env.clock.nowMs();
    const ready = leaderReady(this.core, nowMs, this.config.heartbeatMs);
    for (const { follower, reason } of ready.fullResyncs) {
      const id = this.followerIds[follower];
      this.#env.log(`full resync of ${id} by snapshot: ${reason}`, { event: "resync", fields: { follower: id, kind: "full", reason } });
    }
    const { storage } = this.#env;
    const last = ready.entries.at(-1);
    if (last) storage.appendEntries(ready.entries);
    if (storage.compactionDue && this.state.appliedOffset > this.#snapshotOffset) this.#saveSnapshot();
    for (const { follower, sequence, body } of ready.messages) this.#send(follower, sequence, body);
    for (const { follower, sequence, body } of ready.chunks) this.#sendChunk(follower, sequence, body);
    this.#wakeForAnnounce(this.core.commitAnnounceDueMs(nowMs), nowMs);
    // Sent first, then stored at once (this pump is the batch): an entry commits only once stored
    // here too (commitsOnlyStored), so the leader's own sync overlaps the followers'. Started at the
    // end of the event instead, it began a loop turn late and often finished after the quorum's
    // acks, each such commit costing a pump and messages of its own.
    if (last) {
      storage.sync(() => {
        if (this.#stopped || !this.core.stored(last.offset)) return;
        this.#afterProgress();
        this.#schedulePump();
      }, true);
    }
  }

  /**
   * One timer for the earliest announcement due: a later one is left to the pump it wakes, which
   * arms the next. Timers count whole milliseconds (Bun drops a fraction and would wake early).
   */
  #wakeForAnnounce(dueMs: number, nowMs: number): void {
    if (dueMs >= this.#announceAtMs) return;
    if (this.#announceTimer !== null) this.#env.timers.cancel(this.#announceTimer);
    this.#announceAtMs = dueMs;
    this.#announceTimer = this.#env.timers.after(Math.max(0, Math.ceil(dueMs - nowMs)), () => {
      this.#announceTimer = null;
      this.#announceAtMs = Number.POSITIVE_INFINITY;
      if (!this.#stopped) this.#pump();
    });
  }

  #send(index: number, sequence: number, message: ReplicateMessage): void {
    this.#afterDelay(() =>
      this.#env.transport.replicate(this.followerUrls[index]!, message, this.timings.replicateTimeoutMs, (answer) => {
        if (answer instanceof TransportError) this.#onFailure(index);
        else this.#onReply(index, answer.nodeId, () => this.core.onReply(index, answer.reply, this.#env.clock.nowMs(), sequence));
      }),
    );
  }

  #sendChunk(index: number, sequence: number, chunk: SnapshotChunk): void {
    this.#afterDelay(() =>
      this.#env.transport.snapshot(this.followerUrls[index]!, chunk, this.timings.replicateTimeoutMs, (answer) => {
        if (answer instanceof TransportError) this.#onFailure(index);
        else this.#onReply(index, answer.nodeId, () => this.core.onSnapshotReply(index, answer.reply, this.#env.clock.nowMs(), sequence));
      }),
    );
  }

  #onReply(index: number, nodeId: string | undefined, apply: () => void): void {
    if (nodeId) this.followerIds[index] = nodeId;
    apply();
    this.#afterProgress();
    this.#schedulePump();
  }

  #onFailure(index: number): void {
    this.core.onFailure(index, this.#env.clock.nowMs());
    this.#schedulePump();
  }

  /** Every leader→follower message waits its own draw of U(minDelayMs, maxDelayMs) (DESIGN §6). */
  #afterDelay(send: () => void): void {
    const { minDelayMs, maxDelayMs } = this.delay;
    if (maxDelayMs <= 0) send();
    else this.#env.delays.after(minDelayMs + this.#env.random.float() * (maxDelayMs - minDelayMs), send);
  }
}
