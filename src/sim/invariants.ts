import type { LeaderCore } from "../core/leader.ts";
import type { StateMachine, StoredValue } from "../core/state-machine.ts";
import type { Entry } from "../core/types.ts";
import type { SimContext } from "./context.ts";
import { checkDurability, checkLinearizability, formatEntry } from "./final-checks.ts";
import { type AbandonedBranch, abandonedBranchOf, compareWithCommitted, heldCommittedUpTo, holds, restoredDiffers, sameEntry } from "./history.ts";
import type { LeaderHost, LeaderHostObserver } from "./leader-host.ts";
import type { Operation } from "./linearizability.ts";
import type { Recovery } from "../node/recovery.ts";
import type { FollowerHost, FollowerRead, HeldLog } from "./follower-host.ts";
import type { AckedWrite, LeaderProcess, PolledFollower } from "./leader-process.ts";

export type InvariantName =
  | "ack-quorum"
  | "durability"
  | "log-prefix"
  | "leader-completeness"
  | "commit-monotonic"
  | "apply-order"
  | "visibility"
  | "convergence"
  | "linearizability"
  | "peer-bounds"
  | "counted-holds"
  | "recovery-liveness"
  | "core-assertion";

export interface Violation {
  invariant: InvariantName;
  atUs: number;
  message: string;
}

/** Enough to diagnose a run without flooding the report when one fault breaks everything. */
const violationsKeptMax = 20;

/**
 * Checked even after a corrupt record lost synced committed entries: they hold whatever the history.
 * The others compare against the one committed history, which such a loss forks.
 */
const checkedOutsideContract: ReadonlySet<InvariantName> = new Set(["ack-quorum", "commit-monotonic", "apply-order", "peer-bounds", "core-assertion"]);

/** A watched state machine: whose, and from which offset on it holds entries of an abandoned branch (null: none). */
interface WatchedState {
  node: string;
  forkedAfter: number | null;
}

/** A corrupt record cut a follower's log: synced entries it had acknowledged are gone (a leader may commit with its ack after). */
interface Amnesia {
  follower: string;
  atUs: number;
  held: HeldLog;
}

/**
 * Watches one run from outside the core: every apply on every node (through a wrapper on its
 * StateMachine), every acknowledgement, every read, every leader start, the commit offsets after
 * every event, and the final states. A broken invariant is recorded, never thrown, so the run and
 * its trace go on.
 *
 * The reference is the one committed history, as the checker saw it grow across every leader
 * process: the entries leaders applied, in order. Every node's applied entries must match it
 * offset by offset, and every leader that starts must hold all of it.
 */
export class InvariantChecker implements LeaderHostObserver {
  readonly violations: Violation[] = [];
  readonly acked: AckedWrite[] = [];
  /** `committed[i]` is the entry committed at offset i + 1. */
  readonly committed: Entry[] = [];
  /**
   * Why the run left the contract, or null: a corrupt record cut a follower's log, losing synced
   * entries it had acknowledged; when it was the only holder a leader restart polled, nothing can bring them back.
   */
  outsideContract: string | null = null;
  /** Why the committed history forked (a lossy asynchronous recovery), or null: linearizability is not checked across such a loss. */
  historyForked: string | null = null;
  #host: LeaderHost | null = null;
  #followers: readonly FollowerHost[] = [];
  #amnesia: Amnesia[] = [];
  /** Branches lossy asynchronous recoveries abandoned (see leaderStarted). */
  readonly abandoned: AbandonedBranch[] = [];
  #states = new WeakMap<StateMachine, WatchedState>();
  /** (leader, follower) pairs already reported by counted-holds: one line each, not one per event. */
  #countedReported = new Set<string>();
  /** Per follower, the incarnation and match offset last looked for on its disk (decoding costs). */
  #durablyChecked: string[] = [];
  /** Per leader process, the commit offset last seen. */
  #leaderCommits = new Map<LeaderProcess, number>();
  /** Per follower: the incarnation whose commit offset is remembered, and that offset. */
  #followerCommits: { incarnation: number; commitOffset: number }[] = [];

  constructor(private readonly context: SimContext) {}

  attach(host: LeaderHost, followers: readonly FollowerHost[]): void {
    this.#host = host;
    this.#followers = followers;
    this.#followerCommits = followers.map((follower) => ({ incarnation: follower.incarnation, commitOffset: 0 }));
  }

  report(invariant: InvariantName, message: string): void {
    if (this.outsideContract !== null && !checkedOutsideContract.has(invariant)) {
      this.context.log(`outside the contract, not a violation: ${invariant}: ${message}`);
      return;
    }
    this.context.log(`VIOLATION ${invariant}: ${message}`);
    if (this.violations.length < violationsKeptMax) this.violations.push({ invariant, atUs: this.context.nowUs, message });
  }

  /** A follower's state (at start, or installed from a snapshot). */
  watchFollowerState(node: string, state: StateMachine): void {
    this.#watchState(node, null, state);
  }

  /** Disks lose synced data on one follower per run at most (more than the quorum allows is outside the contract by definition). */
  mayCorrupt(): boolean {
    return this.#amnesia.length === 0;
  }

  followerLostSynced(follower: FollowerHost, lost: HeldLog): void {
    this.#amnesia.push({ follower: follower.name, atUs: this.context.nowUs, held: lost });
  }

  /**
   * Leader completeness (Raft's name): a leader that starts holds every committed entry, in its
   * state or its log. Unless no follower it polled still held the first one it lacks and a
   * follower that held it lost it to a corrupt record (more synced copies lost than the quorum
   * allows): then the run is outside the contract.
   */
  leaderStarted(leader: LeaderProcess, recovery: Recovery, polled: PolledFollower[]): void {
    const { core } = leader;
    this.#leaderCommits.set(leader, core.commitOffset);
    this.#watchState(leader.name, core, core.state);
    const log: Entry[] = [];
    for (let offset = core.state.appliedOffset + 1; offset <= core.lastOffset; offset++) log.push(core.log.at(offset));
    const heldUpTo = heldCommittedUpTo(this.committed, { appliedOffset: core.state.appliedOffset, pending: log });
    if (heldUpTo >= this.committed.length) return;
    const missing = this.committed[heldUpTo]!;
    const where = heldUpTo < core.lastOffset ? `its log has ${formatEntry(core.log.at(missing.offset))} there` : `its log ends at ${core.lastOffset}`;
    const what = `${leader.name} (e${core.epoch}, from ${recovery.recovered?.from ?? "nothing"}) lacks committed ${formatEntry(missing)}: ${where}`;
    // A holder that crashed after it answered may be passed over (its data did not arrive); the
    // followers left still include a holder, unless a corrupt record cut one's log (below).
    const polledHolders = polled.filter((polled) => {
      const follower = this.#followers.find((host) => host.name === polled.position.url)!;
      const sameProcess = !follower.down && follower.incarnation === polled.incarnation;
      return sameProcess && heldCommittedUpTo(this.committed, polled.held) >= missing.offset;
    });
    if (polledHolders.length > 0) {
      const names = polledHolders.map((polled) => polled.position.url).join(", ");
      this.report("leader-completeness", `${what}, though ${names} held it when polled`);
      return;
    }
    if (recovery.writeQuorumFloor === 0) {
      this.#fork(heldUpTo, `${what}: asynchronous replication, held by no follower that answered`);
      return;
    }
    const lost = this.#amnesia.filter((crash) => holds(crash.held, missing));
    if (lost.length === 0) {
      this.report("leader-completeness", `${what}; no follower polled held it, and none that held it lost it from its disk: committed after the poll?`);
      return;
    }
    const losses = lost.map((crash) => `${crash.follower} at ${crash.atUs / 1000}ms`).join(", ");
    this.outsideContract = `${what}; no follower polled still held it, and a follower that held it lost it to a corrupt record (${losses}): more synced copies lost than the quorum allows`;
    this.context.log(`outside the contract from now on: ${this.outsideContract}`);
  }

  beforeAck(leader: LeaderProcess, write: AckedWrite): void {
    this.acked.push({ ...write });
    const entry: Entry = { offset: write.offset, epoch: leader.core.epoch, key: write.key, value: write.value, ...write.condition };
    const held = this.#holders(leader, entry);
    const what = `${leader.name}: write ${write.key}=${write.value ?? "(delete)"} at offset ${write.offset}`;
    if (held < write.required) {
      const offsets = this.#followers.map((f) => `${f.name}:${f.down ? "down" : f.core.lastOffset}`).join(" ");
      this.report("ack-quorum", `${what} acknowledged at quorum ${write.required} but held by ${held} followers (${offsets})`);
    }
    if (write.offset > leader.core.commitOffset) {
      this.report("ack-quorum", `${what} acknowledged before the leader committed it (commit ${leader.core.commitOffset})`);
    }
  }

  onRead(leader: LeaderProcess, key: string, stored: StoredValue | undefined): void {
    if (stored && stored.offset > leader.core.commitOffset) {
      this.report("visibility", `${leader.name} read of ${key} returned offset ${stored.offset} above its commit ${leader.core.commitOffset}`);
    }
  }

  onFollowerRead(follower: FollowerHost, key: string, read: FollowerRead): void {
    if (follower.core.diverged) this.report("visibility", `${follower.name} served a read of ${key} while diverged`);
    // A state that holds an abandoned branch is ahead of the history it reads from; counted-holds and log-prefix judge it.
    if (this.#states.get(follower.core.state)?.forkedAfter != null) return;
    const offset = read.stored?.offset ?? 0;
    if (offset > Math.min(read.commitOffset, this.committed.length)) {
      const commits = `its own ${read.commitOffset}, the committed history's ${this.committed.length}`;
      this.report("visibility", `${follower.name} read of ${key} returned offset ${offset} above the commit (${commits})`);
    }
  }

  /**
   * Commit offsets never go back: each leader process's from the state it recovered on, and each
   * follower's within one incarnation (across epochs too). A new leader process may start below
   * its predecessor's commit, but leaderStarted checks that it holds everything committed.
   */
  afterEvent(): void {
    this.#checkCounted();
    for (const [leader, seen] of this.#leaderCommits) {
      const commit = leader.core.commitOffset;
      if (commit < seen) this.report("commit-monotonic", `${leader.name} commit went back from ${seen} to ${commit}`);
      if (leader.dead) this.#leaderCommits.delete(leader);
      else this.#leaderCommits.set(leader, commit);
    }
    for (const follower of this.#followers) {
      const seen = this.#followerCommits[follower.index]!;
      if (seen.incarnation !== follower.incarnation) {
        seen.incarnation = follower.incarnation;
        seen.commitOffset = 0;
      }
      if (follower.down) continue;
      const commit = follower.core.commitOffset;
      if (commit < seen.commitOffset) {
        this.report("commit-monotonic", `${follower.name} commit went back from ${seen.commitOffset} to ${commit}`);
      }
      seen.commitOffset = commit;
    }
  }

  /** One leader serves, no deposed one runs, and every node serves its full committed state. */
  converged(): boolean {
    const leader = this.#host!.serving?.node?.core;
    if (!leader || this.#host!.deposedRunning.length > 0) return false;
    if (leader.commitOffset !== leader.lastOffset) return false;
    for (const follower of this.#followers) {
      if (follower.down || follower.paused || follower.core.appliedOffset !== leader.lastOffset) return false;
    }
    const digest = leader.state.digest().digest;
    return this.#followers.every((follower) => follower.core.state.digest().digest === digest);
  }

  describeLag(): string {
    const leader = this.#host!.serving;
    const shown = leader
      ? `${leader.name} e${leader.core.epoch} last=${leader.core.lastOffset} commit=${leader.core.commitOffset} digest=${leader.core.state.digest().digest}`
      : "no leader serving";
    const followers = this.#followers.map((f) => {
      if (f.down) return `${f.name} down`;
      return `${f.name} e${f.core.epoch} last=${f.core.lastOffset} applied=${f.core.appliedOffset} digest=${f.core.state.digest().digest}`;
    });
    return [shown, ...followers].join("; ");
  }

  /** After quiescence: acknowledged writes survive on every node, and leader reads are linearizable. */
  finish(histories: ReadonlyMap<string, readonly Operation[]>): void {
    const report = this.report.bind(this);
    const leader = this.#host!.serving;
    const states = [
      ...(leader ? [{ name: leader.name, state: leader.core.state }] : []),
      ...this.#followers.filter((f) => !f.down).map((f) => ({ name: f.name, state: f.core.state })),
    ];
    const nodes = states.map(({ name, state }) => ({ name, appliedOffset: state.appliedOffset, values: new Map(state.entries()) }));
    checkDurability(this.committed, this.acked, nodes, report);
    if (this.historyForked === null) checkLinearizability(histories, report);
    else this.context.log(`linearizability not checked: ${this.historyForked}`);
  }

  /**
   * Wraps `state.apply` so that each applied entry is checked before it lands: applied once, in
   * offset order, committed, and equal to the committed history. A leader's applies extend that
   * history. A state that starts non-empty (restored) must equal the history there, or an
   * abandoned branch's (a follower's disk holding what a lossy recovery left behind). A state that
   * holds an abandoned branch's entries applies nothing more: the follower is diverged, and only a
   * snapshot (a new state) repairs it.
   */
  #watchState(node: string, leader: LeaderCore | null, state: StateMachine): void {
    const watched: WatchedState = { node, forkedAfter: null };
    this.#states.set(state, watched);
    if (state.appliedOffset > 0) this.#compareRestored(watched, state);
    const apply = state.apply.bind(state);
    let appliedOffset = state.appliedOffset;
    state.apply = (entry: Entry) => {
      if (entry.offset !== appliedOffset + 1) {
        const how = entry.offset <= appliedOffset ? "again" : "out of order";
        this.report("apply-order", `${node} applied offset ${entry.offset} ${how}, after ${appliedOffset}`);
      }
      appliedOffset = Math.max(appliedOffset, entry.offset);
      if (watched.forkedAfter !== null) {
        const why = `its state holds entries from offset ${watched.forkedAfter + 1} that a lossy recovery abandoned (it is diverged)`;
        this.report("log-prefix", `${node} applied ${formatEntry(entry)}, though ${why}`);
      } else if (leader) {
        if (entry.offset > leader.commitOffset) {
          this.report("visibility", `${node} applied offset ${entry.offset} before it committed it (commit ${leader.commitOffset})`);
        }
        this.#recordCommitted(node, leader, entry);
      } else if (entry.offset > this.committed.length) {
        this.report("visibility", `${node} applied offset ${entry.offset} before any leader committed it (committed ${this.committed.length})`);
      } else {
        compareWithCommitted(this.committed, node, entry, this.report.bind(this));
      }
      return apply(entry);
    };
  }

  #compareRestored(watched: WatchedState, state: StateMachine): void {
    const differs = restoredDiffers(this.committed, state);
    if (differs === null) return;
    const branch = abandonedBranchOf(this.abandoned, state);
    if (branch) {
      watched.forkedAfter = branch.forkedAfter;
      return;
    }
    this.report(differs.invariant, `${watched.node} restored a state at ${state.appliedOffset} ${differs.what}`);
  }

  /**
   * A lossy recovery (asynchronous replication: it went on without followers that had not
   * answered) started a leader that lacks committed entries from `heldUpTo + 1` on. DESIGN §5
   * allows that loss: the history forks there. The old branch is kept (a follower's disk may hold
   * it), acknowledged writes beyond the fork are no longer held to durability, and every node
   * whose state already applied entries beyond it holds an abandoned branch: it must be set apart.
   */
  #fork(heldUpTo: number, why: string): void {
    this.context.log(`history forks after offset ${heldUpTo}: ${why}`);
    this.historyForked ??= why;
    this.abandoned.push({ entries: this.committed.slice(), forkedAfter: heldUpTo });
    this.committed.length = heldUpTo;
    for (let index = this.acked.length - 1; index >= 0; index--) {
      const write = this.acked[index]!;
      if (write.offset <= heldUpTo) continue;
      this.acked.splice(index, 1);
      this.context.log(`acknowledged write ${write.key}=${write.value ?? "(delete)"} at offset ${write.offset} lost with the abandoned branch`);
    }
    for (const follower of this.#followers) {
      const watched = this.#states.get(follower.core.state);
      if (watched && watched.forkedAfter === null && follower.core.appliedOffset > heldUpTo) watched.forkedAfter = heldUpTo;
    }
  }

  /**
   * counted-holds: the serving leader counts a follower at its match offset only while that
   * follower process (the incarnation it heard, in its epoch) holds the leader's log up to there:
   * the same entry at that offset, synced on its disk, and no applied entry of an abandoned
   * branch below it.
   */
  #checkCounted(): void {
    const leader = this.#host!.serving;
    const core = leader?.node?.core;
    if (!leader || !core) return;
    for (const follower of this.#followers) {
      const progress = core.followers[follower.index]!;
      const matchOffset = progress.matchOffset;
      if (matchOffset === 0 || progress.diverged || follower.down) continue;
      const held = follower.core;
      if (follower.incarnationIds[follower.incarnation] !== progress.incarnation || held.epoch !== core.epoch) continue;
      const forkedAfter = this.#states.get(held.state)?.forkedAfter ?? null;
      let problem: string | null = null;
      if (forkedAfter !== null && forkedAfter < matchOffset)
        problem = `its applied state holds entries from offset ${forkedAfter + 1} that a lossy recovery abandoned`;
      else if (matchOffset > held.lastOffset) problem = `its log ends at ${held.lastOffset}`;
      else if (matchOffset > held.appliedOffset && matchOffset >= core.log.firstOffset) {
        const entry = held.pendingEntries()[matchOffset - held.appliedOffset - 1]!;
        if (!sameEntry(entry, core.log.at(matchOffset))) problem = `it holds ${formatEntry(entry)} there, the leader ${formatEntry(core.log.at(matchOffset))}`;
      }
      const checked = `${follower.incarnation}:${matchOffset}`;
      if (problem === null && matchOffset >= core.log.firstOffset && this.#durablyChecked[follower.index] !== checked) {
        this.#durablyChecked[follower.index] = checked;
        if (!follower.disk.holds(core.log.at(matchOffset))) problem = "its disk holds no synced copy of that entry";
      }
      const pair = `${leader.name} ${follower.name}`;
      if (problem === null || this.#countedReported.has(pair)) continue;
      this.#countedReported.add(pair);
      this.report("counted-holds", `${leader.name} counts ${follower.name} at offset ${matchOffset}, but ${problem}`);
    }
  }

  /**
   * Followers holding `entry` of `leader` on disk (synced) now, or in an incarnation that crashed
   * since and whose loss the leader has not heard of yet (it still counts that incarnation's acknowledgement).
   */
  #holders(leader: LeaderProcess, entry: Entry): number {
    let count = 0;
    for (const follower of this.#followers) {
      // Held means on its disk, synced: a node answers only once stored.
      if (follower.disk.holds(entry)) {
        count++;
        continue;
      }
      const heard = follower.ordinalOf(leader.core.followers[follower.index]!.incarnation);
      const heardIsGone = heard < follower.incarnation || follower.down;
      const heldThen = follower.heldAtCrash[heard];
      if (heardIsGone && heldThen && holds(heldThen, entry)) count++;
    }
    return count;
  }

  /** A leader applies exactly its committed entries, in order: they extend the committed history. */
  #recordCommitted(node: string, leader: LeaderCore, entry: Entry): void {
    const logged = leader.log.at(entry.offset);
    if (!sameEntry(logged, entry)) this.report("log-prefix", `${node} applied ${formatEntry(entry)} where its log has ${formatEntry(logged)}`);
    if (entry.offset === this.committed.length + 1) this.committed.push(entry);
    else compareWithCommitted(this.committed, node, entry, this.report.bind(this));
  }
}
