import type { FollowerProgress } from "./progress.ts";
import type { ReplicateReply } from "./types.ts";

/**
 * Where a follower's answer to a replicate message (from the process the leader talks to, see
 * FollowerProgress.fromCurrentProcess) says its log stands, against the leader's `lastOffset`:
 * what it holds (`matchOffset`), what to send it next, and in which state.
 */
export function takeReplyPosition(progress: FollowerProgress, reply: Exclude<ReplicateReply, { kind: "stale_epoch" }>, lastOffset: number): void {
  if (reply.kind === "ok") {
    if (reply.lastOffset > lastOffset) {
      progress.markDiverged(reply.lastOffset, `it reports offset ${reply.lastOffset}, beyond this leader's ${lastOffset}`);
      return;
    }
    progress.matchOffset = Math.max(progress.matchOffset, reply.lastOffset);
    // A probe is the only message in flight, so its answer says where the follower is: go on
    // from there (a recovered leader starts every follower after its own log, and a follower
    // behind it would otherwise be sent nothing until a write made it answer gap).
    progress.nextOffset = progress.state === "probe" ? progress.matchOffset + 1 : Math.max(progress.nextOffset, progress.matchOffset + 1);
    progress.state = "streaming";
    return;
  }
  if (reply.diverged) {
    progress.markDiverged(reply.lastOffset, `it applied writes up to ${reply.lastOffset} this leader does not have`);
    return;
  }
  // The follower holds less than we thought (it restarted, or a message was lost), or entries
  // this leader does not have: ask again from its own offset (at most from the end of this log),
  // one message at a time until it answers ok.
  progress.matchOffset = Math.min(progress.matchOffset, reply.lastOffset);
  progress.nextOffset = Math.min(reply.lastOffset, lastOffset) + 1;
  progress.state = "probe";
  progress.partialResyncs++;
}
