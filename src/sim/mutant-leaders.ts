import { LeaderCore, type LeaderOptions } from "../core/leader.ts";
import { commitOffset } from "../core/quorum.ts";
import type { StoredValue } from "../core/state-machine.ts";
import type { Entry, ReplicateReply } from "../core/types.ts";

/**
 * Deliberately broken leaders, each a small subclass of the one the simulator runs, so the tests can show that
 * the simulator catches the bug. Nothing outside src/sim and test/sim uses them.
 */

/** Counts itself as one of the followers: commits and acknowledges one follower short. */
export class OneShortLeader extends LeaderCore {
  override ackCount(offset: number): number {
    return super.ackCount(offset) + 1;
  }

  override get commitOffset(): number {
    return Math.max(super.commitOffset, commitOffset(this.matchOffsets(), Math.max(0, this.writeQuorum - 1), this.lastOffset));
  }
}

/** "Optimises" a write to a key whose previous write is still uncommitted by reusing that entry. */
export class CoalescingLeader extends LeaderCore {
  override propose(key: string, value: string | null): Entry {
    const last = this.lastOffset > this.commitOffset ? this.log.at(this.lastOffset) : undefined;
    if (last?.key === key) return last;
    return super.propose(key, value);
  }
}

/** After a gap reply, never again sends a follower what it lacked: only writes newer than the gap. */
export class NoCatchUpLeader extends LeaderCore {
  #skipTo = new Map<number, number>();

  override onReply(index: number, reply: ReplicateReply, nowMs: number): boolean {
    const advanced = super.onReply(index, reply, nowMs);
    if (reply.kind === "gap") this.#skipTo.set(index, this.lastOffset + 1);
    const progress = this.followers[index]!;
    progress.nextOffset = Math.max(progress.nextOffset, this.#skipTo.get(index) ?? 0);
    return advanced;
  }
}

/** Serves reads from a cache that writes never invalidate. */
export class ReadCachingLeader extends LeaderCore {
  constructor(options: LeaderOptions) {
    super(options);
    const read = this.state.get.bind(this.state);
    const cache = new Map<string, StoredValue | undefined>();
    this.state.get = (key: string) => {
      if (!cache.has(key)) cache.set(key, read(key));
      return cache.get(key);
    };
  }
}

/** Serves reads at once after recovery, from a state that may lack writes its predecessor acknowledged. */
export class NoReadBarrierLeader extends LeaderCore {
  constructor(options: LeaderOptions) {
    super(options);
    (this as { readBarrierOffset: number }).readBarrierOffset = 0;
  }
}

/** Serves reads without confirming that it still leads: a deposed leader serves its stale state. */
export class UnconfirmedReadLeader extends LeaderCore {
  override readQuorum(): number {
    return 0;
  }
}
