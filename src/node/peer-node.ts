import { electionTimeoutMs, grantsPreVote } from "../core/election.ts";
import { recoveryPolicy } from "../core/recovery.ts";
import type { Config } from "../config.ts";
import type { TimerHandle } from "./env.ts";
import { FollowerNode } from "./follower-node.ts";
import { LeaderNode } from "./leader-node.ts";
import { electionRoundsMax, type PeerEnv, type PeerRole, type StandOutcome, standNowTimeouts, type WriteRefusal } from "./peer-env.ts";
import { type PeerHandover, startHandover } from "./peer-handover.ts";
import { type PreVoteAnswer, type PreVoteRequest, type TimeoutNowRequest, withSelf } from "./peer-transport.ts";
import { RecoveryFailed, runRecovery } from "./recovery.ts";
import type { StoredData } from "./storage.ts";

/**
 * One node among PEERS (DESIGN §9): it follows; after ELECTION_TIMEOUT_MS (randomised) without
 * its leader it asks for pre-votes, then stands at the next epoch: the leader's recovery run over
 * every peer, itself included (core/election.ts has the quorum rule), after which it leads the
 * others with the same LeaderNode a fixed leader runs. A leader that meets a newer epoch (a
 * follower's stale_epoch, or a newer leader's or candidate's message) becomes a follower again,
 * keeping what it holds.
 */
export class PeerNode {
  readonly selfUrl: string;
  readonly others: readonly string[];
  #role: PeerRole = "follower";
  #follower: FollowerNode | null;
  #leader: LeaderNode | null = null;
  #electionTimer: TimerHandle | null = null;
  #deposedCheck: TimerHandle | null = null;
  #candidacy: { abort(): void } | null = null;
  #preVoting = false;
  #handover: PeerHandover | null = null;
  #stopped = false;
  #noElectionLogged = false;
  #listeners: (() => void)[] = [];
  elections = 0;

  constructor(
    readonly config: Config,
    readonly env: PeerEnv,
  ) {
    this.selfUrl = config.advertiseUrl!;
    this.others = config.peers.filter((url) => url !== this.selfUrl);
    this.#follower = this.#newFollower(env.stored);
  }

  get role(): PeerRole {
    return this.#role;
  }

  /** The node that serves now: the follower (also while a candidate) or the leader. */
  get current(): FollowerNode | LeaderNode {
    return this.#leader ?? this.#follower!;
  }

  get epoch(): number {
    return this.current.epoch;
  }

  get leading(): boolean {
    return this.#leader !== null && this.#leader.core.deposedBy === null;
  }

  /** The leader as far as this node knows: itself, or the one whose messages it takes in its current epoch. */
  get leaderUrl(): string | null {
    if (this.#leader) return this.leading ? this.selfUrl : null;
    // Silent for longer than any node's election timeout (2×): it no longer knows one.
    const follower = this.#follower!;
    const silentMs = this.env.clock.nowMs() - follower.lastLeaderContactMs;
    return silentMs <= 2 * this.config.electionTimeoutMs ? follower.core.leaderId : null;
  }

  /** Called after every change of role (the HTTP layer serves the new node's routes). */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** `standNow` (ROLE=leader): ask for pre-votes at once rather than after a timeout, so a new cluster gets a leader fast. */
  start(standNow: boolean): void {
    if (!standNow) {
      // A node just started leaves a peer started as leader (which stands at once) its window first.
      this.#armElectionTimer(electionTimeoutMs(standNowTimeouts * this.config.electionTimeoutMs, this.env.random.float() / standNowTimeouts));
      return;
    }
    // The others may still be starting: ask again every heartbeat for a few timeouts, while no leader is heard.
    const untilMs = this.env.clock.nowMs() + standNowTimeouts * this.config.electionTimeoutMs;
    const attempt = () =>
      this.#stand({ preVote: true, forced: false }, (outcome) => {
        if (outcome.kind === "leading" || this.#role !== "follower" || this.leaderUrl !== null || this.env.clock.nowMs() > untilMs) return;
        this.#cancelTimers();
        this.#electionTimer = this.env.timers.after(this.config.heartbeatMs, attempt);
      });
    this.env.timers.soon(attempt);
  }

  stop(): void {
    this.#stopped = true;
    this.#cancelTimers();
    this.#candidacy?.abort();
    this.#handover?.cancel();
    this.current.stop();
  }

  writeRefusal(): WriteRefusal | null {
    if (this.leading && !this.#handover) return null;
    if (this.#handover) return { kind: "no_leader", reason: "this leader is handing over to another node (step-down)" };
    const leader = this.leaderUrl;
    if (leader && leader !== this.selfUrl) return { kind: "not_leader", leader };
    return { kind: "no_leader", reason: this.#role === "candidate" ? "an election is under way" : "no leader is known yet" };
  }

  status(): Record<string, unknown> {
    return {
      ...this.current.status(),
      role: this.#role,
      epoch: this.epoch,
      leader: this.leaderUrl,
      peers: this.config.peers,
      url: this.selfUrl,
      elections: this.elections,
      handingOver: this.#handover !== null,
    };
  }

  /**
   * The follower that handles a peer message of `epoch` (replicate, snapshot chunk, fence/vote,
   * recover). A leader meeting a newer epoch steps down first; an older one is answered with the
   * leader's epoch (the sender is a stale leader or candidate).
   */
  followerFor(epoch: number): FollowerNode | { leaderEpoch: number } {
    if (this.#leader) {
      if (epoch <= this.#leader.epoch) return { leaderEpoch: this.#leader.epoch };
      this.#becomeFollower(`a peer announced epoch ${epoch}`);
    }
    return this.#follower!;
  }

  preVote(request: PreVoteRequest): PreVoteAnswer {
    const follower = this.#follower;
    const granted = (this.env.grantsPreVote ?? grantsPreVote)({
      nowMs: this.env.clock.nowMs(),
      lastLeaderContactMs: follower ? follower.quietSinceMs : this.env.clock.nowMs(),
      electionTimeoutMs: this.config.electionTimeoutMs,
      leads: this.leading,
    });
    if (granted) this.env.log(`pre-vote granted to ${request.candidate} for epoch ${request.epoch}`, { event: "pre_vote", fields: { ...request } });
    return { granted, epoch: this.epoch };
  }

  /** From the leader handing over to this follower: stand at once, without pre-vote. */
  timeoutNow(request: TimeoutNowRequest): boolean {
    if (this.#role !== "follower" || request.epoch !== this.epoch) return false;
    this.#stand({ preVote: false, forced: false });
    return true;
  }

  /** POST /admin/promote: lead now, with whoever answers (lossy: writes only others held may be lost). */
  promote(done: (outcome: StandOutcome) => void): void {
    if (this.#role !== "follower") {
      done({ kind: "failed", reason: `this node is a ${this.#role}` });
      return;
    }
    this.#stand({ preVote: false, forced: true }, done);
  }

  /** POST /admin/step-down: hands leadership to the most caught-up follower (src/node/peer-handover.ts). */
  stepDown(done: (outcome: StandOutcome & { leader?: string }) => void): void {
    const leader = this.#leader;
    if (!leader || !this.leading || this.#handover) {
      done({ kind: "failed", reason: "this node does not lead" });
      return;
    }
    this.#handover = startHandover(this, leader, (outcome) => {
      this.#handover = null;
      this.#notify();
      done(outcome);
    });
    this.#notify();
  }

  /**
   * Stands once the leader has been silent for the election timeout (randomised). `firstTimeoutMs`
   * replaces the first draw only: the longer wait of a node just started, or a quick retry of a
   * pre-vote the others refused (they refuse only while they heard the leader within the timeout,
   * which differs between nodes by a few ms). Once a leader is heard, each wait is a fresh draw.
   */
  #armElectionTimer(firstTimeoutMs?: number): void {
    if (this.#stopped) return;
    if (this.#electionTimer !== null) this.env.timers.cancel(this.#electionTimer);
    const draw = () => electionTimeoutMs(this.config.electionTimeoutMs, this.env.random.float());
    let timeoutMs = firstTimeoutMs ?? draw();
    const check = () => {
      this.#electionTimer = null;
      if (this.#role !== "follower" || this.#stopped) return;
      const silentMs = this.env.clock.nowMs() - this.#follower!.quietSinceMs;
      if (silentMs >= timeoutMs) {
        this.#stand({ preVote: true, forced: false });
        return;
      }
      timeoutMs = draw();
      // At least 1 ms: a clock in whole µs (the simulator's) could otherwise wake it at the same instant again.
      this.#electionTimer = this.env.timers.after(Math.max(1, timeoutMs - silentMs), check);
    };
    this.#electionTimer = this.env.timers.after(timeoutMs, check);
  }

  /**
   * The write quorum an election plans for: the configured one, or lower if the leader said a
   * lower one is in force or may have acknowledged entries held here (the floor). Lower is safe:
   * a smaller W needs more promises.
   */
  #writeQuorum(): number {
    const core = this.#follower?.core;
    return Math.min(this.config.writeQuorum, core?.writeQuorumFloor ?? Number.POSITIVE_INFINITY, core?.writeQuorum ?? Number.POSITIVE_INFINITY);
  }

  #stand(how: { preVote: boolean; forced: boolean }, done: (outcome: StandOutcome) => void = () => {}): void {
    if (this.#role !== "follower" || this.#preVoting || this.#stopped) {
      done({ kind: "failed", reason: `this node is a ${this.#role}` });
      return;
    }
    const writeQuorum = this.#writeQuorum();
    const quorum = (this.env.policy ?? recoveryPolicy).electionQuorum(this.config.peers.length, writeQuorum);
    if (!how.preVote) {
      this.#elect(how.forced, done);
      return;
    }
    this.#preVoting = true;
    const request = { epoch: this.epoch + 1, candidate: this.selfUrl };
    let granted = 1;
    let outstanding = this.others.length;
    let decided = false;
    const decide = (won: boolean) => {
      if (decided) return;
      decided = true;
      this.#preVoting = false;
      if (this.#stopped || this.#role !== "follower") return;
      // A leader heard meanwhile ends the pre-vote too.
      const heardMs = this.env.clock.nowMs() - this.#follower!.quietSinceMs;
      if (won && heardMs >= this.config.electionTimeoutMs) this.#elect(false, done);
      else {
        if (writeQuorum === 0 && !this.#noElectionLogged) {
          this.env.log(
            "no leader heard; with a write quorum of 0 an election needs every node, the old leader included: waiting for it (POST /admin/promote forces one, lossy)",
            {
              event: "election",
              level: "warn",
              fields: { step: "waiting_w0" },
            },
          );
          this.#noElectionLogged = true;
        }
        const stillSilent = heardMs >= this.config.electionTimeoutMs;
        this.#armElectionTimer(stillSilent ? electionTimeoutMs(this.config.heartbeatMs, this.env.random.float()) : undefined);
        done({ kind: "failed", reason: `pre-vote: ${granted} of the ${quorum} needed` });
      }
    };
    if (granted >= quorum) decide(true);
    for (const url of this.others) {
      this.env.rpc.preVote(url, request, this.config.electionTimeoutMs, (answer) => {
        if (!(answer instanceof Error) && answer.granted) granted++;
        outstanding--;
        if (granted >= quorum) decide(true);
        else if (outstanding === 0) decide(false);
      });
    }
  }

  /** Stands at the next epoch: fences every peer (itself first), takes over the most advanced log among the voters, leads. */
  #elect(forced: boolean, done: (outcome: StandOutcome) => void): void {
    const follower = this.#follower!;
    this.#setRole("candidate");
    this.#cancelTimers();
    this.elections++;
    this.env.elections?.electionStarted();
    const transport = this.env.newTransport();
    const startEpoch = follower.epoch + 1;
    this.env.log(`standing for election at epoch ${startEpoch}${forced ? " (forced: POST /admin/promote)" : ""}`, {
      event: "election",
      fields: { step: "stand", epoch: startEpoch, forced },
    });
    const base = this.config.electionTimeoutMs;
    this.#candidacy = runRecovery(
      this.selfUrl,
      this.config.peers,
      this.#writeQuorum(),
      {
        clock: this.env.clock,
        timers: this.env.timers,
        transport: withSelf(transport, this.selfUrl, () => follower),
        log: this.env.log,
        // Rounds of an election wait about a timeout, then a random pause: competing candidates drift apart.
        timings: { ...this.env.timings, positionTimeoutMs: base, positionRetryMs: electionTimeoutMs(base / 2, this.env.random.float()) },
        policy: this.env.policy,
        roundsMax: forced ? 1 : electionRoundsMax,
        election: { startEpoch, forced },
      },
      (result) => {
        this.#candidacy = null;
        if (this.#stopped || this.#role !== "candidate") {
          transport.close();
          return;
        }
        // A newer candidate's fence or leader's message reached this node meanwhile: it lost.
        const lost = result instanceof RecoveryFailed ? result.message : follower.epoch > result.epoch ? `epoch ${follower.epoch} is newer` : null;
        if (lost !== null || result instanceof RecoveryFailed) {
          transport.close();
          this.env.log(`election lost: ${lost}`, { event: "election", level: "warn", fields: { step: "lost" } });
          this.env.elections?.electionEnded(false);
          this.#setRole("follower");
          this.#armElectionTimer();
          done({ kind: "failed", reason: lost ?? "" });
          return;
        }
        const leaderEnv = {
          clock: this.env.clock,
          timers: this.env.timers,
          random: this.env.random,
          transport,
          storage: this.env.storage,
          delays: this.env.newDelays(),
          log: this.env.log,
          timings: this.env.timings,
          observer: this.env.observer,
          newCore: this.env.newLeaderCore,
        };
        const start = { epoch: result.epoch, recovered: result.recovered, writeQuorumFloor: result.writeQuorumFloor, id: this.selfUrl };
        const leader = new LeaderNode({ ...this.config, followers: [...this.others] }, leaderEnv, start);
        follower.stop();
        this.#follower = null;
        this.#leader = leader;
        this.#noElectionLogged = false;
        this.#setRole("leader");
        leader.start();
        this.#adoptWriteQuorum(leader, result.writeQuorum ?? null);
        this.#deposedCheck = this.env.timers.every(this.config.heartbeatMs, () => {
          if (this.#leader?.core.deposedBy != null) this.#becomeFollower(`deposed by epoch ${this.#leader.core.deposedBy}`);
        });
        this.env.elections?.electionEnded(true);
        this.env.log(`elected: leading at epoch ${result.epoch}`, { event: "election", fields: { step: "elected", epoch: result.epoch } });
        done({ kind: "leading", epoch: result.epoch });
      },
    );
  }

  /**
   * W is replicated state: the new leader keeps the write quorum in force where the log it took
   * over came from, so a PUT /admin/config survives failover. It starts at WRITE_QUORUM and
   * changes to it the way an operator would, before anything commits: a raise at once, a lowering
   * once its marker commits under the higher one (core/write-quorum.ts). A lowering the old
   * leader had not yet put in force is not taken over.
   */
  #adoptWriteQuorum(leader: LeaderNode, writeQuorum: number | null): void {
    if (writeQuorum === null || writeQuorum === leader.core.writeQuorum || writeQuorum > this.others.length) return;
    leader.setWriteQuorum(writeQuorum);
  }

  /** A leader that met a newer epoch follows again, keeping its state and log (the new leader reconciles them). */
  #becomeFollower(why: string): void {
    const leader = this.#leader!;
    const state = leader.state;
    const applied = state.appliedOffset;
    const entries = leader.core.log.slice(applied + 1, leader.lastOffset - applied);
    leader.abdicate();
    this.#leader = null;
    this.#handover?.leaderGone();
    this.#follower = this.#newFollower({
      epoch: leader.epoch,
      snapshot: { offset: applied, epoch: state.appliedEpoch, pairs: state.snapshotPairs() },
      entries,
      writeQuorum: leader.core.pendingWriteQuorum ?? leader.core.writeQuorum,
      writeQuorumFloor: leader.core.writeQuorumFloor,
    });
    this.env.log(`stepping down to follower: ${why}`, { event: "election", fields: { step: "follow", epoch: leader.epoch } });
    this.#cancelTimers();
    this.#setRole("follower");
    this.#armElectionTimer();
  }

  #newFollower(stored: StoredData | undefined): FollowerNode {
    const { clock, timers, random, storage, log, timings } = this.env;
    return new FollowerNode({ ...this.config, role: "follower" }, { clock, timers, random, storage, stored, log, timings, newCore: this.env.newFollowerCore });
  }

  #cancelTimers(): void {
    for (const timer of [this.#electionTimer, this.#deposedCheck]) if (timer !== null) this.env.timers.cancel(timer);
    this.#electionTimer = null;
    this.#deposedCheck = null;
  }

  #setRole(role: PeerRole): void {
    this.#role = role;
    this.#notify();
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }
}
