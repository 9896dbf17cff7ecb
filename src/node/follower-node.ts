import { constants } from "../core/constants.ts";
import { FollowerCore, type FollowerReady } from "../core/follower.ts";
import type { FollowerPosition } from "../core/recovery.ts";
import type { RecoveryData, ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotReply } from "../core/types.ts";
import type { Config } from "../config.ts";
import type { NodeLog } from "../log.ts";
import { type Clock, type Random, randomIncarnation, type Timers } from "./env.ts";
import { OffsetWatch } from "./offset-watch.ts";
import type { ReadRefusal, ServingNode } from "./serving-node.ts";
import type { Storage, StoredData } from "./storage.ts";
import { type NodeTimings, nodeTimings } from "./timings.ts";

/** What a follower process runs on: production's in src/main.ts, simulated ones in src/sim. */
export interface FollowerEnv {
  clock: Clock;
  timers: Timers;
  random: Random;
  storage: Storage;
  /** What `storage` held at start-up: the follower goes on from there. */
  stored?: StoredData;
  log: NodeLog;
  timings?: Partial<NodeTimings>;
  /** The core to run (the simulator's mutants pass a broken subclass). */
  newCore?: (incarnation: number) => FollowerCore;
}

/**
 * The follower process: feeds replicate messages to FollowerCore, stores what its Ready says
 * and answers once stored. A message that arrived ahead of an earlier one (the simulated delay
 * reorders them) waits, bounded, for the gap to fill before the follower answers `gap`.
 */
export class FollowerNode implements ServingNode {
  readonly role = "follower";
  /**
   * Each start of the process is a new incarnation: a random number from `Random`, compared by
   * equality (a wall clock stepped back would make a new process look older than the one it replaced).
   */
  readonly core: FollowerCore;
  readonly received: OffsetWatch;
  /**
   * What a `minOffset` read may rely on: applied here and verified against the current leader's
   * log (right after a new leader's first message nothing is, until its probe matched), and only
   * while a leader was heard from lately. A follower that was paused or cut off, or whose leader
   * was replaced, may hold offsets of another history; it waits (bounded) rather than answer
   * from it.
   */
  readonly applied: OffsetWatch;
  readonly timings: NodeTimings;
  readonly #clock: Clock;
  readonly #storage: Storage;
  readonly #log: NodeLog;
  #lastLeaderMessageAtMs = Number.NEGATIVE_INFINITY;
  /** When a leader of the current epoch last sent something this follower took (not a stale one), and that epoch: the election timer's clock. */
  #leaderContactAtMs = Number.NEGATIVE_INFINITY;
  #leaderContactEpoch = -1;
  /** When this follower last promised an epoch to a candidate (a vote), and that epoch. */
  #voted = { atMs: Number.NEGATIVE_INFINITY, epoch: -1 };
  /** Two heartbeats at least (HEARTBEAT_MS is a setting: a slow one must not look like silence). */
  readonly #silenceMs: number;

  constructor(
    readonly config: Config,
    env: FollowerEnv,
  ) {
    const incarnation = randomIncarnation(env.random);
    this.core = env.newCore ? env.newCore(incarnation) : new FollowerCore(incarnation);
    const stored = env.stored;
    if (stored) {
      const writeQuorums = { writeQuorum: stored.writeQuorum ?? null, floor: stored.writeQuorumFloor ?? null };
      this.core.restore(stored.epoch, stored.snapshot, stored.entries, writeQuorums);
    }
    this.timings = { ...nodeTimings, ...env.timings };
    this.#clock = env.clock;
    this.#silenceMs = Math.max(constants.followerReadSilenceMs, 2 * config.heartbeatMs);
    this.received = new OffsetWatch(() => this.core.lastOffset, env.timers);
    this.applied = new OffsetWatch(
      () => (this.#clock.nowMs() - this.#lastLeaderMessageAtMs > this.#silenceMs ? 0 : Math.min(this.core.appliedOffset, this.core.verifiedOffset)),
      env.timers,
    );
    this.#storage = env.storage;
    this.#log = env.log;
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
    return this.core.lastEntryEpoch;
  }

  /** Followers serve what they applied; `minOffset` is how a client asks for more. */
  readonly readBarrierOffset = 0;

  /** A follower that applied writes the leader does not have serves none until repaired by snapshot. */
  get readRefusal(): ReadRefusal | null {
    if (!this.core.diverged) return null;
    return { reason: "diverged", message: "this follower applied writes the current leader does not have; it is being repaired by snapshot" };
  }

  status(): Record<string, unknown> {
    return {
      id: this.config.nodeId,
      role: this.role,
      epoch: this.epoch,
      lastOffset: this.lastOffset,
      commitOffset: this.commitOffset,
      keys: this.state.size,
      digest: this.state.digest().digest,
      appliedOffset: this.core.appliedOffset,
      leader: this.config.leaderUrl,
      leaderId: this.core.leaderId,
      snapshotsInstalled: this.core.snapshotsInstalled,
      writeQuorumFloor: this.core.writeQuorumFloor,
      writeQuorum: this.core.writeQuorum,
      diverged: this.core.diverged,
      storage: this.#storage.status(),
    };
  }

  /** When the leader of the current epoch was last heard (−∞: none yet in this epoch). */
  get lastLeaderContactMs(): number {
    return this.#leaderContactEpoch === this.core.epoch ? this.#leaderContactAtMs : Number.NEGATIVE_INFINITY;
  }

  /**
   * Since when this follower has been without a leader: its leader's last message, or its last
   * vote (Raft resets the election timer on a vote too), whichever is later in the current epoch.
   */
  get quietSinceMs(): number {
    const votedMs = this.#voted.epoch === this.core.epoch ? this.#voted.atMs : Number.NEGATIVE_INFINITY;
    return Math.max(this.lastLeaderContactMs, votedMs);
  }

  /** A message of the current epoch's leader was taken (the core refused none older): the election timer starts again. */
  #heardLeader(atMs: number): void {
    this.#leaderContactAtMs = atMs;
    this.#leaderContactEpoch = this.core.epoch;
  }

  /** A replicate message; `done` gets the answer once what it carried is stored. */
  replicate(message: ReplicateMessage, done: (reply: ReplicateReply) => void): void {
    const nowMs = this.#clock.nowMs();
    this.#lastLeaderMessageAtMs = nowMs;
    const reply = this.core.receive(message);
    if (reply.kind !== "stale_epoch") this.#heardLeader(nowMs);
    // Entries ahead of a gap may be overtaken by the earlier message: wait for it, bounded. A
    // heartbeat ahead is a leader's probe of where this log ends: it is answered at once.
    if (reply.kind !== "gap" || reply.diverged || message.entries.length === 0) {
      this.#store(() => done(reply));
      return;
    }
    // Bounded by offsetWatchersMax: beyond it the gap is answered at once (the leader resends).
    if (this.received.full) {
      this.#log(`${constants.offsetWatchersMax} messages wait for a gap already; answering gap at once`, {
        event: "overloaded",
        level: "warn",
        fields: { bound: "offset watchers", limit: constants.offsetWatchersMax },
      });
    }
    this.#store(() => {});
    this.received.waitFor(message.prevOffset, this.timings.gapWaitMs, () => {
      const retried = this.core.receive(message);
      this.#store(() => done(retried));
    });
  }

  /** A snapshot chunk; the last one replaces the state. */
  receiveSnapshot(chunk: SnapshotChunk, done: (reply: SnapshotReply) => void): void {
    const nowMs = this.#clock.nowMs();
    this.#lastLeaderMessageAtMs = nowMs;
    const reply = this.core.receiveSnapshot(chunk);
    if (reply.kind !== "stale_epoch") this.#heardLeader(nowMs);
    if (chunk.done && reply.kind === "ok")
      this.#log(`installed snapshot at offset ${chunk.snapshotOffset}`, { event: "snapshot", fields: { offset: chunk.snapshotOffset, epoch: chunk.epoch } });
    this.#store(() => done(reply));
  }

  /**
   * A restarting leader's first question: where this follower was (epoch seen, log held, the
   * write quorum floor), after which it adopts the new epoch, as a heartbeat of that epoch would
   * make it, and promises it before answering. Among PEERS this is the vote (core/election.ts):
   * an epoch is promised once, so a second candidate at it reads a refusal in the epoch reported.
   */
  fence(epoch: number, leaderId: string, done: (position: Omit<FollowerPosition, "url">) => void): void {
    const core = this.core;
    const granted = core.grantsVote(epoch);
    // The epoch reported is the answer: below the one asked for is a promise, at or above it a refusal.
    const position = {
      epoch: granted ? Math.min(core.epoch, epoch - 1) : Math.max(core.epoch, epoch),
      lastOffset: core.lastOffset,
      lastEntryEpoch: core.lastEntryEpoch,
      appliedOffset: core.appliedOffset,
      writeQuorumFloor: core.writeQuorumFloor,
      writeQuorum: core.writeQuorum,
    };
    if (granted) {
      this.#voted = { atMs: this.#clock.nowMs(), epoch };
      const previousEpoch = core.epoch;
      core.receive({ epoch, leaderId, prevOffset: 0, prevEpoch: 0, entries: [], commitOffset: 0 });
      this.#log(`fenced by ${leaderId} at epoch ${epoch}`, { event: "fence", fields: { leaderId, previousEpoch } });
    }
    this.#store(() => done(position));
  }

  /** What a restarting leader takes over (a consistent copy, taken in one go). */
  recoveryData(): RecoveryData {
    return {
      epoch: this.core.epoch,
      appliedOffset: this.core.appliedOffset,
      appliedEpoch: this.core.state.appliedEpoch,
      pairs: this.core.state.snapshotPairs(),
      entries: this.core.pendingEntries(),
    };
  }

  stop(): void {
    this.received.close();
    this.applied.close();
  }

  /** Hands the core's Ready to storage, then answers; waiters for the offsets reached go on. */
  #store(then: () => void): void {
    const ready: FollowerReady = this.core.takeReady();
    if (ready.truncatedAfter !== null) this.#storage.truncateAfter(ready.truncatedAfter);
    if (ready.entries.length > 0) this.#storage.appendEntries(ready.entries);
    if (ready.epoch !== null) this.#storage.promiseEpoch(ready.epoch);
    if (ready.writeQuorums !== null) this.#storage.keepWriteQuorum(ready.writeQuorums.writeQuorum, ready.writeQuorums.floor);
    // A snapshot installed replaces the stored log up to it; else the log is compacted now and then.
    const state = this.core.state;
    if (ready.snapshotInstalled || (this.#storage.compactionDue && ready.committed.length > 0)) {
      this.#storage.saveSnapshot({ offset: state.appliedOffset, epoch: state.appliedEpoch, pairs: state.snapshotPairs() });
    }
    this.#storage.sync(() => {
      then();
      this.applied.notify();
    });
    // Messages waiting for this one's entries go on now, not after its sync: their entries join
    // the same group commit, and each still answers only once its own store is synced. (Notified
    // after the sync, a run of messages that arrived out of order cost one sync each, in series.)
    this.received.notify();
  }
}
