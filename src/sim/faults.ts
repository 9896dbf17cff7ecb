import type { Entry, ReplicateMessage, ReplicateReply, SnapshotReply } from "../core/types.ts";
import { clientKeyCheck, forge, judge, type PeerChecks } from "./adversary.ts";
import type { InvariantChecker } from "./invariants.ts";
import type { SimContext } from "./context.ts";
import { isFailure } from "./follower-host.ts";
import { formatMessage, formatReply } from "./format.ts";
import type { LeaderHost } from "./leader-host.ts";
import type { Cut, Network } from "./network.ts";
import type { FollowerHost } from "./follower-host.ts";

export interface FaultStats {
  partitions: number;
  /** Partitions that cut one direction only. */
  oneWayPartitions: number;
  crashes: number;
  pauses: number;
  deposedMessages: number;
  /** The serving leader's write quorum changed at run time (PUT /admin/config). */
  quorumChanges: number;
  /** The clock every node reads jumped. */
  clockSteps: number;
  /** A peer with the token sent a follower what no honest peer sends. */
  adversarialMessages: number;
}

type FaultKind = keyof Omit<FaultStats, "oneWayPartitions">;
const faultKinds: readonly FaultKind[] = ["partitions", "crashes", "pauses", "deposedMessages", "quorumChanges", "clockSteps", "adversarialMessages"];
const cuts: readonly Cut[] = ["both", "both", "to-follower", "to-leader"];
/** A clock step: forward up to this (a suspended host resuming), or back up to this (an adjusted clock). */
const clockStepForwardMsMax = 2000;
const clockStepBackMsMax = 1000;

const usPerMs = 1000;
const partitionUs = { minUs: 1 * usPerMs, maxUs: 150 * usPerMs };
const downUs = { minUs: 0, maxUs: 50 * usPerMs };
const pauseUs = { minUs: 1 * usPerMs, maxUs: 150 * usPerMs };
const deposedEntriesMax = 3;
/**
 * Share of follower crashes that wait for the follower's next sync to disk (SimFiles.crashInNextSync), and for how long at
 * most: a follower syncs only when it was handed something, so most crashes between events find nothing unsynced.
 */
const crashInSyncShare = 0.5;
const crashInSyncWithinUs = 50 * usPerMs;
/** Share of leader crashes that start a crash loop on a flaky host (see LeaderHost.startCrashLoop). */
const crashLoop = { afterUs: { minUs: 0, maxUs: 20 * usPerMs }, continueChance: 0.5, cutOffUs: { minUs: 1 * usPerMs, maxUs: 40 * usPerMs } };
const crashLoopShare = 0.4;

/**
 * Injects faults at random times during the fault window, then heals everything at once: ends
 * partitions, resumes paused followers, restarts crashed ones, kills deposed leaders, starts a
 * leader that is down, and makes the network lossless (it still delays and reorders). Message
 * drops and duplicates come from the network itself.
 *
 * Follower faults come at random intervals; the scenario's leader faults (crash, or deposal
 * when enabled) at times drawn at the start, some of them in a crash loop (the successor dies
 * soon after it starts serving, while it still catches its followers up). A forged "deposed leader" message (one epoch older
 * than the serving leader's) also sends a follower a few conflicting entries, committed. Only a
 * follower that has already heard the serving leader's epoch gets them, and it must refuse them:
 * a real old leader cannot commit entries that conflict with its successor's log.
 */
export class FaultInjector {
  readonly stats: FaultStats = {
    partitions: 0,
    oneWayPartitions: 0,
    crashes: 0,
    pauses: 0,
    deposedMessages: 0,
    quorumChanges: 0,
    clockSteps: 0,
    adversarialMessages: 0,
  };

  constructor(
    private readonly context: SimContext,
    private readonly network: Network,
    private readonly host: LeaderHost,
    private readonly followers: readonly FollowerHost[],
    private readonly checker: InvariantChecker,
    private readonly peerChecks: PeerChecks,
  ) {}

  start(): void {
    const { faultWindowUs, leaderFaults, deposedLeaderShare } = this.context.scenario;
    if (faultWindowUs === 0) {
      this.network.lossy = false;
      return;
    }
    const { rng, queue } = this.context;
    for (let fault = 0; fault < leaderFaults; fault++) {
      const depose = rng.chance(deposedLeaderShare);
      const loop = rng.chance(crashLoopShare);
      queue.at(rng.int(1, faultWindowUs - 1), () => {
        this.context.log(`fault leader ${depose ? "deposal" : "crash"}${loop ? ", and a crash loop" : ""}`);
        if (depose) this.host.depose();
        else this.host.crash();
        if (loop) this.host.startCrashLoop(crashLoop);
      });
    }
    this.#scheduleNext();
    queue.at(faultWindowUs, () => this.#healAll());
  }

  #scheduleNext(): void {
    const { scenario, rng, queue } = this.context;
    const atUs = queue.nowUs + rng.int(0, 2 * scenario.faultIntervalMeanUs);
    if (atUs >= scenario.faultWindowUs) return;
    queue.at(atUs, () => {
      this.#inject(rng.pick(faultKinds), rng.pick(this.followers));
      this.#scheduleNext();
    });
  }

  #inject(kind: FaultKind, follower: FollowerHost): void {
    const { context } = this;
    if (follower.pauseHeld) {
      context.log(`fault ${kind} on ${follower.name} skipped: a targeted fault holds it paused`);
      return;
    }
    if (follower.down || (follower.paused && kind === "pauses")) {
      context.log(`fault ${kind} on ${follower.name} skipped: ${follower.down ? "down" : "paused"}`);
      return;
    }
    this.stats[kind]++;
    switch (kind) {
      case "partitions": {
        const untilUs = context.nowUs + context.delayUs(partitionUs);
        const cut = context.rng.pick(cuts);
        if (cut !== "both") this.stats.oneWayPartitions++;
        this.network.partition(follower.index, untilUs, cut);
        context.log(`fault partition ${follower.name} ${cut === "both" ? "both ways" : cut} until ${untilUs / usPerMs}ms`);
        break;
      }
      case "quorumChanges":
        this.#changeQuorum();
        break;
      case "adversarialMessages":
        this.#sendForged(follower);
        break;
      case "clockSteps": {
        const forward = context.rng.chance(0.5);
        const stepMs = forward ? context.rng.int(1, clockStepForwardMsMax) : -context.rng.int(1, clockStepBackMsMax);
        context.clock.stepMs(stepMs);
        context.log(`fault clock steps ${stepMs}ms`);
        break;
      }
      case "crashes": {
        const restartLater = () => {
          const incarnation = follower.incarnation;
          context.queue.after(context.delayUs(downUs), () => {
            if (follower.down && follower.incarnation === incarnation) follower.restart();
          });
        };
        if (context.rng.chance(crashInSyncShare)) {
          follower.crashInNextSync(crashInSyncWithinUs, restartLater);
        } else {
          follower.crash();
          restartLater();
        }
        break;
      }
      case "pauses": {
        follower.pause();
        const incarnation = follower.incarnation;
        context.queue.after(context.delayUs(pauseUs), () => {
          if (follower.paused && follower.incarnation === incarnation) follower.resume();
        });
        break;
      }
      case "deposedMessages":
        this.#sendDeposed(follower);
        break;
    }
  }

  /**
   * PUT /admin/config on the serving leader: any quorum from 1 (0 only in asynchronous runs,
   * which promise nothing across a leader crash). A lowered quorum is replicated state: a
   * restarted leader recovers with the lowest one any follower reports.
   */
  #changeQuorum(): void {
    const { context } = this;
    const node = this.host.serving?.node;
    if (!node) {
      context.log("fault quorum change skipped: no leader serving");
      return;
    }
    const quorum = context.rng.int(context.scenario.writeQuorum === 0 ? 0 : 1, this.followers.length);
    const name = this.host.serving!.name;
    context.log(`fault write quorum ${node.core.writeQuorum} → ${quorum} on ${name}`);
    node.setWriteQuorum(quorum, (outcome) => {
      if (outcome) context.log(`${name} write quorum ${quorum}: ${outcome.kind}`);
    });
  }

  /**
   * A peer with the token sends a follower what no honest peer sends. The checks the HTTP layer
   * runs first (src/core/peer-bounds.ts) must refuse it (400 invalid_message), so the node never
   * sees it; a message they let through reaches the node, as it would in production.
   */
  #sendForged(follower: FollowerHost): void {
    const { context } = this;
    const node = follower.node;
    const position = { epoch: node.epoch, lastOffset: node.lastOffset };
    const forged = forge(context.rng, position, node.config.maxKeyBytes);
    const refusal = judge(this.peerChecks, position, forged, clientKeyCheck(node.config.maxKeyBytes));
    if (refusal !== null) {
      context.log(`fault intruder → ${follower.name} ${forged.what}: refused, 400 invalid_message (${refusal})`);
      return;
    }
    this.checker.report("peer-bounds", `${forged.what} to ${follower.name} (epoch ${position.epoch}, last ${position.lastOffset}) was not refused`);
    const label = `${follower.name} ← intruder ${forged.what}`;
    const nobody = () => context.log(`${label}: answered, nobody listens`);
    if (forged.kind === "replicate") follower.handle<ReplicateReply>(label, (target, reply) => target.replicate(forged.message, reply), nobody);
    else if (forged.kind === "snapshot") follower.handle<SnapshotReply>(label, (target, reply) => target.receiveSnapshot(forged.chunk, reply), nobody);
    else follower.handle<object>(label, (target, reply) => target.fence(forged.epoch, "intruder", reply), nobody);
  }

  #sendDeposed(follower: FollowerHost): void {
    const { context } = this;
    const { rng, scenario } = context;
    const leader = this.host.serving?.node?.core;
    if (!leader) {
      context.log(`fault deposed leader → ${follower.name} skipped: no leader serving to be older than`);
      return;
    }
    const currentEpoch = leader.epoch;
    const prevOffset = rng.int(0, leader.lastOffset);
    const entries: Entry[] = Array.from({ length: rng.int(1, deposedEntriesMax) }, (_, i) => {
      const offset = prevOffset + 1 + i;
      return { offset, epoch: currentEpoch - 1, key: `k${rng.int(0, scenario.keys - 1)}`, value: JSON.stringify(`deposed.${offset}`) };
    });
    const message: ReplicateMessage = {
      epoch: currentEpoch - 1,
      leaderId: "deposed",
      prevOffset,
      // As an old leader that shares the log up to prevOffset: the conflict is in the entries.
      prevEpoch: leader.log.epochAt(prevOffset),
      entries,
      commitOffset: prevOffset + entries.length,
    };
    context.log(`fault deposed leader → ${follower.name} ${formatMessage(message)}`);
    this.network.carry(follower.index, "to-follower", `deposed → ${follower.name}`, scenario.linkDelay, () => {
      if (!follower.down && follower.core.epoch < currentEpoch) {
        context.log(`net  deposed message withheld from ${follower.name}: it has not heard epoch ${currentEpoch} yet`);
        return;
      }
      const label = `${follower.name} ← deposed ${formatMessage(message)}`;
      follower.handle<ReplicateReply>(
        label,
        (node, reply) => node.replicate(message, reply),
        (answer) => context.log(`${label}: ${isFailure(answer) ? answer.failure : formatReply(answer)}, nobody listens`),
      );
    });
  }

  #healAll(): void {
    this.network.lossy = false;
    this.network.healPartitions();
    this.context.log(
      "faults stop: partitions end, paused followers resume, crashed processes restart, deposed leaders die, disks stop failing, no more drops or copies",
    );
    for (const follower of this.followers) {
      follower.disarmCrash();
      follower.disk.files.syncFailureChance = 0;
      if (follower.down) follower.restart();
      if (follower.paused && !follower.pauseHeld) follower.resume();
    }
    this.host.heal();
  }
}
