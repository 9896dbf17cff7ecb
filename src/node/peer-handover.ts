import type { TimerHandle } from "./env.ts";
import type { LeaderNode } from "./leader-node.ts";
import type { StandOutcome } from "./peer-env.ts";
import type { PeerNode } from "./peer-node.ts";

export interface PeerHandover {
  /** The node stopped. */
  cancel(): void;
  /** The leader stepped down (the chosen follower's fence reached it): now wait to hear the new leader. */
  leaderGone(): void;
}

/** How often a handover looks at the followers' progress. */
const handoverCheckMs = 5;

/**
 * POST /admin/step-down (DESIGN §9): the leader takes no new writes (they answer 503 no_leader,
 * which clients retry), waits until every write it took is committed and one follower holds its
 * whole log, tells that follower to stand at once (no pre-vote), and answers once it hears the new
 * leader. Nothing acknowledged depends on this node afterwards, so no write fails; if nothing
 * happens within the bound the leader takes writes again and the handover fails.
 */
export function startHandover(peer: PeerNode, leader: LeaderNode, done: (outcome: StandOutcome & { leader?: string }) => void): PeerHandover {
  const { clock, timers, rpc, log } = peer.env;
  const epoch = leader.epoch;
  const timeoutMs = Math.max(peer.config.quorumTimeoutMs, 4 * peer.config.electionTimeoutMs);
  const deadlineMs = clock.nowMs() + timeoutMs;
  let asked: string | null = null;
  let gone = false;
  let timer: TimerHandle | null = null;
  log(`stepping down: handing over leadership at epoch ${epoch}`, { event: "election", fields: { step: "step_down", epoch } });

  const finish = (outcome: StandOutcome & { leader?: string }) => {
    if (timer !== null) timers.cancel(timer);
    timer = null;
    done(outcome);
  };

  const check = () => {
    if (gone) {
      const heard = peer.leaderUrl;
      if (heard !== null && heard !== peer.selfUrl && peer.epoch > epoch) {
        finish({ kind: "leading", epoch: peer.epoch, leader: heard });
        return;
      }
    } else if (asked === null && leader.core.uncommittedEntries === 0) {
      const target = mostCaughtUp(leader);
      if (target !== null) {
        asked = target;
        rpc.timeoutNow(target, { epoch, leader: peer.selfUrl }, peer.config.electionTimeoutMs, (answer) => {
          if (answer instanceof Error || !answer.started) asked = null;
        });
      }
    }
    if (clock.nowMs() > deadlineMs) {
      finish({ kind: "failed", reason: `no new leader within ${timeoutMs} ms${asked ? ` (asked ${asked} to stand)` : ""}` });
    }
  };
  timer = timers.every(handoverCheckMs, check);
  return {
    cancel() {
      if (timer !== null) timers.cancel(timer);
      timer = null;
    },
    leaderGone() {
      gone = true;
    },
  };
}

/** The follower holding the leader's whole log (the most caught-up, healthy one), or null while none does. */
function mostCaughtUp(leader: LeaderNode): string | null {
  let best: number | null = null;
  leader.core.followers.forEach((progress, index) => {
    if (progress.matchOffset < leader.lastOffset || progress.diverged) return;
    if (best === null || progress.lastReplyAtMs > leader.core.followers[best]!.lastReplyAtMs) best = index;
  });
  return best === null ? null : leader.followerUrls[best]!;
}
