import type { LeaderEnv } from "./leader-env.ts";
import type { LeaderNode } from "./leader-node.ts";

/** A leader's `/status`: its log, quorum, storage and delays, and each follower's progress as the core sees it. */
export function leaderStatus(node: LeaderNode, env: Pick<LeaderEnv, "clock" | "transport" | "storage" | "delays">): Record<string, unknown> {
  const nowMs = env.clock.nowMs();
  return {
    id: node.config.nodeId,
    role: node.core.deposedBy === null ? node.role : "deposed",
    deposedBy: node.core.deposedBy,
    epoch: node.epoch,
    lastOffset: node.lastOffset,
    commitOffset: node.commitOffset,
    logFirstOffset: node.core.log.firstOffset,
    keys: node.state.size,
    digest: node.state.digest().digest,
    writeQuorum: node.core.writeQuorum,
    transport: env.transport.name,
    storage: env.storage.status(),
    pendingWriteQuorum: node.core.pendingWriteQuorum,
    writeQuorumFloor: node.core.writeQuorumFloor,
    uncommittedEntries: node.core.uncommittedEntries,
    delay: { ...node.delay, measured: env.delays.quartiles() },
    followers: node.core.followers.map((progress, index) => ({
      id: node.followerIds[index],
      url: node.followerUrls[index],
      state: progress.diverged ? "diverged" : progress.state === "streaming" ? "streaming" : progress.state === "probe" ? "catching_up" : "snapshot",
      matchOffset: progress.matchOffset,
      lag: node.lastOffset - progress.matchOffset,
      healthy: progress.healthy(nowMs),
      lastAckMsAgo: Number.isFinite(progress.lastReplyAtMs) ? Math.round(nowMs - progress.lastReplyAtMs) : null,
      partialResyncs: progress.partialResyncs,
      fullResyncs: progress.fullResyncs,
      lastFullResyncReason: progress.lastFullResyncReason,
    })),
  };
}
