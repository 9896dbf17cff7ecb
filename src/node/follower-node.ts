import { constants } from "../core/constants.ts";
import { FollowerCore } from "../core/follower.ts";
import type { ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotReply } from "../core/types.ts";
import type { Config } from "../config.ts";
import { OffsetWatch } from "./offset-watch.ts";
import type { FollowerPosition } from "../core/recovery.ts";
import type { ReadRefusal, ServingNode } from "./serving-node.ts";
import type { RecoveryData } from "./transport.ts";

/**
 * The follower process: feeds replicate messages to FollowerCore. A message that arrived ahead
 * of an earlier one (the simulated delay reorders them) waits, bounded, for the gap to fill
 * before the follower answers `gap`.
 */
export class FollowerNode implements ServingNode {
  readonly role = "follower";
  /**
   * Each start of the process is a new incarnation: a random 48-bit number, compared by equality
   * (a wall clock stepped back would make a new process look older than the one it replaced).
   */
  readonly core = new FollowerCore(randomIncarnation());
  readonly received = new OffsetWatch(() => this.core.lastOffset);
  /**
   * What a `minOffset` read may rely on: applied here and verified against the current leader's
   * log (right after a new leader's first message nothing is, until its probe matched), and only
   * while a leader was heard from lately. A follower that was paused or cut off, or whose leader
   * was replaced, may hold offsets of another history; it waits (bounded) rather than answer
   * from it.
   */
  readonly applied = new OffsetWatch(() =>
    performance.now() - this.#lastLeaderMessageAtMs > this.#silenceMs ? 0 : Math.min(this.core.appliedOffset, this.core.verifiedOffset),
  );
  #lastLeaderMessageAtMs = Number.NEGATIVE_INFINITY;
  /** Two heartbeats at least (HEARTBEAT_MS is a setting: a slow one must not look like silence). */
  readonly #silenceMs: number;

  constructor(readonly config: Config) {
    this.#silenceMs = Math.max(constants.followerReadSilenceMs, 2 * config.heartbeatMs);
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
      diverged: this.core.diverged,
    };
  }

  /** A follower that applied writes the leader does not have serves none until repaired by snapshot. */
  get readRefusal(): ReadRefusal | null {
    if (!this.core.diverged) return null;
    return { reason: "diverged", message: "this follower applied writes the current leader does not have; it is being repaired by snapshot" };
  }

  async replicate(message: ReplicateMessage): Promise<ReplicateReply> {
    this.#lastLeaderMessageAtMs = performance.now();
    let reply = this.#receive(message);
    // Entries ahead of a gap may be overtaken by the earlier message: wait for it, bounded. A
    // heartbeat ahead is a leader's probe of where this log ends: it is answered at once.
    if (reply.kind === "gap" && !reply.diverged && message.entries.length > 0) {
      // Bounded by offsetWatchersMax: beyond it the gap is answered at once (the leader resends).
      if (this.received.full) console.log(`${this.config.nodeId}: ${constants.offsetWatchersMax} messages wait for a gap already; answering gap at once`);
      await this.received.waitFor(message.prevOffset, constants.gapWaitMs);
      reply = this.#receive(message);
    }
    return reply;
  }

  receiveSnapshot(chunk: SnapshotChunk): SnapshotReply {
    this.#lastLeaderMessageAtMs = performance.now();
    const reply = this.core.receiveSnapshot(chunk);
    if (chunk.done && reply.kind === "ok") console.log(`${this.config.nodeId}: installed snapshot at offset ${chunk.snapshotOffset}`);
    this.received.notify();
    this.applied.notify();
    return reply;
  }

  /**
   * A restarting leader's first question: where this follower was (epoch seen, log held), after
   * which it adopts the new epoch, as a heartbeat of that epoch would make it.
   */
  fence(epoch: number, leaderId: string): Omit<FollowerPosition, "url"> {
    const core = this.core;
    const position = {
      epoch: core.epoch,
      lastOffset: core.lastOffset,
      lastEntryEpoch: core.lastEntryEpoch,
      appliedOffset: core.appliedOffset,
      writeQuorumFloor: core.writeQuorumFloor,
    };
    if (epoch > core.epoch) core.receive({ epoch, leaderId, prevOffset: 0, prevEpoch: 0, entries: [], commitOffset: 0 });
    return position;
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

  #receive(message: ReplicateMessage): ReplicateReply {
    const reply = this.core.receive(message);
    this.received.notify();
    this.applied.notify();
    return reply;
  }
}

function randomIncarnation(): number {
  const [high, low] = crypto.getRandomValues(new Uint32Array(2));
  return (high! & 0xffff) * 2 ** 32 + low!;
}
