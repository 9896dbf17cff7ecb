import type { FollowerCore } from "../core/follower.ts";
import type { FollowerPosition } from "../core/recovery.ts";
import type { StateMachine, StoredValue } from "../core/state-machine.ts";
import type { Entry, ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotReply } from "../core/types.ts";
import type { RecoveryData } from "../node/transport.ts";
import type { SimContext } from "./context.ts";
import { formatChunk, formatMessage, formatReply, followerName } from "./format.ts";

/** Whoever made a call (a leader process, or one recovering) and gets its answer. */
export interface CallOwner {
  readonly name: string;
  onAnswer(call: Call, answer: Answer): void;
}

/** One request to a follower; it settles once, by an answer or by its owner's timeout. */
export interface Call {
  id: number;
  follower: number;
  owner: CallOwner;
  settled: boolean;
}

/**
 * What goes back for a call: the core's reply (which names its incarnation), recovery data, or a
 * broken connection. A position also carries what the follower held then, for the checker only.
 */
export type Answer =
  | { kind: "reply"; reply: ReplicateReply }
  | { kind: "snapshot_reply"; reply: SnapshotReply }
  | { kind: "position"; position: FollowerPosition; held: HeldLog }
  | { kind: "recovery_data"; data: RecoveryData }
  | { kind: "failure"; reason: "refused" | "reset" };

/** A read served by a follower: the stored value and the commit offset the follower knew. */
export interface FollowerRead {
  stored: StoredValue | undefined;
  commitOffset: number;
}

/** What a follower process held: its applied offset and the entries after it. */
export interface HeldLog {
  appliedOffset: number;
  pending: readonly Entry[];
}

/** What the process reports to the rest of the simulation. */
export interface FollowerHooks {
  /** A new StateMachine (a start, or a snapshot installed), before anything is applied to it. */
  watch(follower: SimFollower, state: StateMachine): void;
  /** The process is about to lose everything it holds. */
  crashing(follower: SimFollower, held: HeldLog): void;
  /** An answer to send back; `call` is null for a deposed leader's message, whose answer nobody awaits. */
  answer(follower: SimFollower, call: Call | null, answer: Answer): void;
}

interface Parked {
  call: Call | null;
  message: ReplicateMessage;
}

/** Work that arrived while the process was paused: run on resume, or aborted by a crash. */
interface Deferred {
  run(): void;
  abort(): void;
}

/**
 * A follower process as follower-node.ts and internal-routes.ts run it, around a FollowerCore: a
 * message that arrives ahead of an earlier one is held (at most gapWaitUs) until the gap fills,
 * then offered again, whether or not its sender still waits (the HTTP handler runs on after the
 * client went away). It answers a restarting leader's position and recovery requests at once.
 * The process can crash (it restarts empty, with a fresh core of the next incarnation, because
 * followers keep no disk) and pause (everything addressed to it waits until it resumes).
 */
export class SimFollower {
  readonly name: string;
  core: FollowerCore;
  incarnation = 0;
  down = false;
  paused = false;
  /** What each past incarnation held when it crashed. */
  readonly heldAtCrash: HeldLog[] = [];
  snapshotsInstalled = 0;
  #watchedState: StateMachine;
  #parked: Parked[] = [];
  #deferred: Deferred[] = [];

  constructor(
    readonly index: number,
    private readonly context: SimContext,
    private readonly newCore: (incarnation: number) => FollowerCore,
    private readonly hooks: FollowerHooks,
  ) {
    this.name = followerName(index);
    this.core = newCore(this.incarnation);
    this.#watchedState = this.core.state;
    hooks.watch(this, this.#watchedState);
  }

  /** What the process holds now. */
  held(): HeldLog {
    return { appliedOffset: this.core.appliedOffset, pending: this.core.pendingEntries() };
  }

  deliver(call: Call | null, message: ReplicateMessage): void {
    this.#handle(call, `${this.#from(call)} ${formatMessage(message)}`, () => {
      this.#offer(call, message, `${this.#from(call)} ${formatMessage(message)}`, true);
      this.#releaseFilled();
    });
  }

  /** Snapshot chunks are answered at once (follower-node's receiveSnapshot does not wait). */
  deliverSnapshot(call: Call, chunk: SnapshotChunk): void {
    const label = `${this.#from(call)} ${formatChunk(chunk)}`;
    this.#handle(call, label, () => {
      const reply = this.core.receiveSnapshot(chunk);
      if (this.core.state !== this.#watchedState) {
        this.snapshotsInstalled++;
        this.#watchedState = this.core.state;
        this.hooks.watch(this, this.#watchedState);
      }
      this.context.log(`${label}: ${formatReply(reply)} applied=${this.core.appliedOffset}`);
      this.hooks.answer(this, call, { kind: "snapshot_reply", reply });
      this.#releaseFilled();
    });
  }

  /**
   * `POST /internal/fence` as a restarting leader sends it (transport.fence). With
   * `fenceEpoch` (FollowerNode.fence) the follower then adopts that epoch, as a heartbeat
   * of it would make it, so it refuses older leaders from then on; the position still says the
   * epoch it had seen before.
   */
  position(call: Call, fenceEpoch: number | null): void {
    this.#handle(call, `${this.#from(call)} position${fenceEpoch === null ? "" : ` fenced at e${fenceEpoch}`}`, () => {
      const core = this.core;
      const position = { url: this.name, epoch: core.epoch, lastOffset: core.lastOffset, lastEntryEpoch: core.lastEntryEpoch, appliedOffset: core.appliedOffset };
      if (fenceEpoch !== null && fenceEpoch > core.epoch) {
        core.receive({ epoch: fenceEpoch, leaderId: call.owner.name, prevOffset: 0, prevEpoch: 0, entries: [], commitOffset: 0 });
      }
      const fenced = fenceEpoch === null ? "" : `, now at e${core.epoch}`;
      this.context.log(`${this.#from(call)} position: e${position.epoch} last=${position.lastOffset} (e${position.lastEntryEpoch}) applied=${position.appliedOffset}${fenced}`);
      this.hooks.answer(this, call, { kind: "position", position, held: this.held() });
    });
  }

  /** `GET /internal/recover` (follower-node's recoveryData): a consistent copy, taken in one go. */
  recoveryData(call: Call): void {
    this.#handle(call, `${this.#from(call)} recover`, () => {
      const core = this.core;
      const data: RecoveryData = {
        epoch: core.epoch,
        appliedOffset: core.appliedOffset,
        appliedEpoch: core.state.appliedEpoch,
        pairs: core.state.snapshotPairs(),
        entries: core.pendingEntries(),
      };
      this.context.log(`${this.#from(call)} recover: applied=${data.appliedOffset} (e${data.appliedEpoch}) + ${data.entries.length} entries`);
      this.hooks.answer(this, call, { kind: "recovery_data", data });
    });
  }

  /** A client read; `done(null)` when the process is down or crashes before answering. */
  read(key: string, done: (read: FollowerRead | null) => void): void {
    if (this.down) {
      done(null);
      return;
    }
    this.#whenRunning(
      () => done({ stored: this.core.state.get(key), commitOffset: this.core.commitOffset }),
      () => done(null),
    );
  }

  crash(): void {
    this.context.log(`${this.name} crash (incarnation ${this.incarnation}, held ${this.core.lastOffset}, applied ${this.core.appliedOffset})`);
    const held = this.held();
    this.hooks.crashing(this, held);
    this.heldAtCrash[this.incarnation] = held;
    this.down = true;
    this.paused = false;
    for (const parked of this.#parked) this.hooks.answer(this, parked.call, { kind: "failure", reason: "reset" });
    this.#parked = [];
    for (const deferred of this.#deferred) deferred.abort();
    this.#deferred = [];
  }

  /** Starts a crashed process again, empty, as the next incarnation. */
  restart(): void {
    this.incarnation++;
    this.core = this.newCore(this.incarnation);
    this.#watchedState = this.core.state;
    this.hooks.watch(this, this.#watchedState);
    this.down = false;
    this.context.log(`${this.name} restart empty (incarnation ${this.incarnation})`);
  }

  pause(): void {
    this.paused = true;
    this.context.log(`${this.name} pause`);
  }

  resume(): void {
    this.paused = false;
    const deferred = this.#deferred;
    this.#deferred = [];
    this.context.log(`${this.name} resume, ${deferred.length} queued`);
    for (const item of deferred) item.run();
  }

  /** A request arriving: refused while down, queued while paused, else run. */
  #handle(call: Call | null, label: string, run: () => void): void {
    if (this.down) {
      this.context.log(`${label}: refused, process down`);
      this.hooks.answer(this, call, { kind: "failure", reason: "refused" });
      return;
    }
    this.#whenRunning(run, () => this.hooks.answer(this, call, { kind: "failure", reason: "reset" }));
  }

  #whenRunning(run: () => void, abort: () => void): void {
    if (this.paused) this.#deferred.push({ run, abort });
    else run();
  }

  #offer(call: Call | null, message: ReplicateMessage, label: string, parkOnGap: boolean): void {
    const reply = this.core.receive(message);
    if (reply.kind === "gap" && parkOnGap) {
      const parked = { call, message };
      this.#parked.push(parked);
      this.context.log(`${label}: gap, holds it (last=${reply.lastOffset})`);
      const incarnation = this.incarnation;
      this.context.queue.after(this.context.scenario.gapWaitUs, () => {
        if (this.incarnation !== incarnation) return;
        this.#whenRunning(
          () => {
            const at = this.#parked.indexOf(parked);
            if (at < 0) return;
            this.#parked.splice(at, 1);
            this.#offer(call, message, `${label}: gap wait over`, false);
            this.#releaseFilled();
          },
          () => {}, // the crash answered every parked call already
        );
      });
      return;
    }
    this.context.log(`${label}: ${formatReply(reply)} applied=${this.core.appliedOffset}`);
    this.hooks.answer(this, call, { kind: "reply", reply });
  }

  /** Offers again, in arrival order, every held message whose gap has filled. */
  #releaseFilled(): void {
    for (;;) {
      const at = this.#parked.findIndex((parked) => parked.message.prevOffset <= this.core.lastOffset);
      if (at < 0) return;
      const [parked] = this.#parked.splice(at, 1);
      this.#offer(parked!.call, parked!.message, `${this.#from(parked!.call)} gap filled`, false);
    }
  }

  #from(call: Call | null): string {
    return `${this.name} ← ${call ? `${call.owner.name} #${call.id}` : "deposed leader"}`;
  }
}
