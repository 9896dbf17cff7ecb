import { assert } from "./assert.ts";
import { constants } from "./constants.ts";
import { grantsVote } from "./election.ts";
import { StateMachine } from "./state-machine.ts";
import type { Entry, ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotPair, SnapshotReply } from "./types.ts";

/**
 * What the follower must do before it answers (etcd's `Ready`): drop the stored entries beyond
 * `truncatedAfter` (when not null), store `entries`, promise `epoch` and keep `writeQuorumFloor`
 * (each when not null).
 * `committed` are the entries applied since, now visible; `snapshotInstalled` says the state was
 * replaced by a snapshot up to `truncatedAfter`.
 */
export interface FollowerReady {
  entries: readonly Entry[];
  truncatedAfter: number | null;
  epoch: number | null;
  /** The write quorum in force at the leader and its floor, when a message changed either (kept beside the epoch). */
  writeQuorums: { writeQuorum: number | null; floor: number | null } | null;
  committed: readonly Entry[];
  snapshotInstalled: boolean;
}

/** Shared by every Ready with nothing in a list (most heartbeats): no allocation per message. */
const none: readonly Entry[] = Object.freeze([]);

interface StagedSnapshot {
  snapshotOffset: number;
  nextChunk: number;
  pairs: SnapshotPair[];
  keys: Set<string>;
}

/**
 * A follower's replication decisions, without I/O. Entries are appended strictly in offset order
 * whatever order messages arrive in; a message that starts beyond the follower's last offset is a
 * gap (the caller may wait for the earlier message and offer it again). Entries become visible
 * (applied to the state) only up to the leader's commit offset.
 *
 * Epochs, as Raft's log matching: a message from an older epoch is refused. A message says the
 * epoch of the leader's entry just before its entries; where the follower holds a different one,
 * its unverified entries are dropped and the leader re-sends. An entry that differs from one the
 * leader sends at the same offset is replaced with everything after it. Only entries verified
 * against the current leader's log are ever applied, so a stale entry of an older epoch never
 * becomes visible. Committed entries are never dropped.
 */
export class FollowerCore {
  #state = new StateMachine();
  /** Newest leader epoch seen; older leaders are refused. */
  epoch = 0;
  leaderId: string | null = null;
  /** Appended but not yet applied entries: offsets appliedOffset+1 … lastOffset. */
  #pending: Entry[] = [];
  #lastOffset = 0;
  /**
   * Highest offset known to match the current epoch's leader's log. Applied entries too are
   * verified anew under each leader (DESIGN §5): after a lossy recovery (asynchronous mode) a new
   * leader may lack writes this follower applied.
   */
  #verifiedOffset = 0;
  /** Epoch runs of the applied entries, oldest first, for log matching below appliedOffset. */
  #appliedEpochs = new EpochRuns();
  /** Applied entries the current leader does not have: refused until a snapshot replaces the state. */
  #diverged = false;
  /** Highest commit offset the current epoch's leader announced. */
  #knownCommitOffset = 0;
  #staged: StagedSnapshot | null = null;
  /** Snapshots installed (full resyncs). */
  snapshotsInstalled = 0;
  #ready: FollowerReady = emptyReady();
  /**
   * The smallest write quorum that may have acknowledged an entry held here (see
   * ReplicateMessage.writeQuorumFloor), reported to a restarting leader; null until a leader said.
   * Kept across a fence, so a leader that dies while recovering leaves it for the next one.
   */
  #writeQuorumFloor: number | null = null;
  /** Commit offset of the message that set the floor: only a later commit may raise it (messages reorder). */
  #floorCommitOffset = -1;
  /** The write quorum in force at the leader (ReplicateMessage.writeQuorum), kept across a fence like the floor; null until a leader said. */
  #writeQuorum: number | null = null;
  /** Commit offset of the message that set it: an older message arriving late does not undo a change. */
  #writeQuorumCommitOffset = -1;

  /** `incarnation` tells this run of the process from earlier ones (the node draws it at random; only equality counts). */
  constructor(readonly incarnation = 0) {}

  /**
   * A restart with stored data (nothing is to be stored again): the promised epoch, the state of
   * the latest snapshot, and the entries after it held but not applied. Under the next leader
   * they are verified and applied as if just received, so the follower catches up from its own
   * offset. The stored write quorum floor holds until a leader's message replaces it.
   */
  restore(
    epoch: number,
    snapshot: { offset: number; epoch: number; pairs: readonly SnapshotPair[] } | null,
    entries: readonly Entry[],
    writeQuorums: { writeQuorum: number | null; floor: number | null } = { writeQuorum: null, floor: null },
  ): void {
    this.epoch = epoch;
    this.#writeQuorum = writeQuorums.writeQuorum;
    this.#writeQuorumFloor = writeQuorums.floor;
    if (snapshot) {
      this.#state = StateMachine.restore(snapshot.offset, snapshot.epoch, snapshot.pairs);
      this.#appliedEpochs = new EpochRuns(snapshot.offset, snapshot.epoch);
    }
    assert(
      entries.length === 0 || (entries[0]!.offset === this.appliedOffset + 1 && entries.at(-1)!.offset === this.appliedOffset + entries.length),
      "stored entries follow the snapshot without holes",
    );
    this.#pending = [...entries];
    this.#lastOffset = this.appliedOffset + entries.length;
    this.#knownCommitOffset = this.appliedOffset;
  }

  /** What happened since the last call: to store before answering, and what became visible. */
  takeReady(): FollowerReady {
    const ready = this.#ready;
    this.#ready = emptyReady();
    return ready;
  }

  get state(): StateMachine {
    return this.#state;
  }

  get lastOffset(): number {
    return this.#lastOffset;
  }

  /** Epoch of the last entry held: with lastOffset, how up to date this log is (for a restarting leader). */
  get lastEntryEpoch(): number {
    return this.#pending.at(-1)?.epoch ?? this.#state.appliedEpoch;
  }

  /** Applied entries stay committed under a new leader (until proven diverged); beyond them only what is verified. */
  get commitOffset(): number {
    return Math.max(this.appliedOffset, Math.min(this.#knownCommitOffset, this.#verifiedOffset));
  }

  get appliedOffset(): number {
    return this.#state.appliedOffset;
  }

  /** Highest offset known to match the current leader's log (0 right after a new leader's first message). */
  get verifiedOffset(): number {
    return this.#verifiedOffset;
  }

  /** Whether this follower applied writes the current leader does not have (it must not serve reads). */
  get diverged(): boolean {
    return this.#diverged;
  }

  get writeQuorumFloor(): number | null {
    return this.#writeQuorumFloor;
  }

  get writeQuorum(): number | null {
    return this.#writeQuorum;
  }

  /** Held but unapplied entries (for a restarting leader's recovery). */
  pendingEntries(): Entry[] {
    return this.#pending.slice();
  }

  /** Whether a candidate (or a restarting leader) fencing at `epoch` gets this follower's promise (core/election.ts). */
  grantsVote(epoch: number): boolean {
    return grantsVote(this.epoch, epoch);
  }

  receive(message: ReplicateMessage): ReplicateReply {
    if (message.epoch < this.epoch) return { kind: "stale_epoch", epoch: this.epoch };
    this.#enterEpoch(message.epoch, message.leaderId);
    const writeQuorum = this.#writeQuorum;
    const floor = this.#writeQuorumFloor;
    if (message.writeQuorumFloor !== undefined) this.#learnWriteQuorumFloor(message.writeQuorumFloor, message.commitOffset);
    if (message.writeQuorum !== undefined && message.commitOffset >= this.#writeQuorumCommitOffset) {
      this.#writeQuorum = message.writeQuorum;
      this.#writeQuorumCommitOffset = message.commitOffset;
    }
    if (this.#writeQuorum !== writeQuorum || this.#writeQuorumFloor !== floor) {
      this.#ready.writeQuorums = { writeQuorum: this.#writeQuorum, floor: this.#writeQuorumFloor };
    }
    if (this.#diverged) return this.#gap();
    if (message.prevOffset > this.#lastOffset) return this.#gap();
    if (message.prevOffset > this.appliedOffset && this.#heldAt(message.prevOffset).epoch !== message.prevEpoch) {
      // Our entry at prevOffset is not the leader's, nor is anything after it: drop those, but
      // never what this leader already verified here. The entries before it stay (unapplied):
      // they may be committed writes this follower acknowledged, and a recovery counts on every
      // holder keeping them (Raft deletes only from a conflict on). The leader probes from there.
      this.#truncateAfter(Math.max(message.prevOffset - 1, this.#verifiedOffset));
      return this.#gap();
    }
    if (this.#appliedDiffers(message.prevOffset, message.prevEpoch)) return this.#diverge();
    let offset = message.prevOffset;
    for (const entry of message.entries) {
      offset++;
      if (entry.offset !== offset) return this.#gap(); // malformed: refuse rather than guess
      if (offset <= this.appliedOffset) {
        if (this.#appliedDiffers(offset, entry.epoch)) return this.#diverge();
        continue;
      }
      if (offset <= this.#lastOffset) {
        if (this.#heldAt(offset).epoch === entry.epoch) continue; // the same entry again
        this.#truncateAfter(offset - 1);
      }
      this.#pending.push(entry);
      this.#ready.entries = append(this.#ready.entries, entry);
      this.#lastOffset = offset;
    }
    this.#verifiedOffset = Math.max(this.#verifiedOffset, offset);
    this.#learnCommit(message.commitOffset);
    return { kind: "ok", lastOffset: this.#verifiedOffset, incarnation: this.incarnation };
  }

  /** Chunks of a snapshot, in order; the last one replaces the state. */
  receiveSnapshot(chunk: SnapshotChunk): SnapshotReply {
    if (chunk.epoch < this.epoch) return { kind: "stale_epoch", epoch: this.epoch };
    this.#enterEpoch(chunk.epoch, chunk.leaderId);
    if (chunk.chunk === 0) this.#staged = { snapshotOffset: chunk.snapshotOffset, nextChunk: 0, pairs: [], keys: new Set() };
    const staged = this.#staged;
    if (!staged || staged.snapshotOffset !== chunk.snapshotOffset || staged.nextChunk !== chunk.chunk) {
      this.#staged = null;
      return { kind: "gap", lastOffset: this.#lastOffset, incarnation: this.incarnation };
    }
    for (const pair of chunk.pairs) {
      // A key twice, or a pair newer than the snapshot, is no state: start over rather than restore it.
      if (staged.keys.has(pair[0]) || pair[2] > chunk.snapshotOffset) {
        this.#staged = null;
        return { kind: "gap", lastOffset: this.#lastOffset, incarnation: this.incarnation };
      }
      staged.keys.add(pair[0]);
      staged.pairs.push(pair);
    }
    staged.nextChunk++;
    if (!chunk.done) return { kind: "chunk_ok", chunk: chunk.chunk, incarnation: this.incarnation };
    this.#staged = null;
    if (chunk.snapshotOffset <= this.appliedOffset && !this.#diverged && !this.#appliedDiffers(chunk.snapshotOffset, chunk.snapshotEpoch)) {
      // Already applied here, and (as far as epochs tell) the same history: verified up to there.
      this.#verifiedOffset = Math.max(this.#verifiedOffset, chunk.snapshotOffset);
    } else {
      // The snapshot is committed state, so it supersedes everything held up to its offset (and a
      // diverged state whatever its offset: that is how a diverged follower is repaired). What is
      // held beyond it stays if the log agrees with it there (Raft's InstallSnapshot): those
      // entries may be acknowledged writes this follower is one of the few to hold.
      const agrees =
        !this.#diverged &&
        chunk.snapshotOffset > this.appliedOffset &&
        chunk.snapshotOffset < this.#lastOffset &&
        this.#heldAt(chunk.snapshotOffset).epoch === chunk.snapshotEpoch;
      const kept = agrees ? this.#pending.slice(chunk.snapshotOffset - this.appliedOffset) : [];
      this.#state = StateMachine.restore(chunk.snapshotOffset, chunk.snapshotEpoch, staged.pairs);
      this.#appliedEpochs = new EpochRuns(chunk.snapshotOffset, chunk.snapshotEpoch);
      this.#diverged = false;
      this.#pending = kept;
      this.#lastOffset = chunk.snapshotOffset + kept.length;
      this.#verifiedOffset = chunk.snapshotOffset;
      this.snapshotsInstalled++;
      this.#ready.snapshotInstalled = true;
      this.#ready.entries = this.#ready.entries.filter((entry) => entry.offset > chunk.snapshotOffset && entry.offset <= this.#lastOffset);
      if (!agrees) this.#ready.truncatedAfter = chunk.snapshotOffset;
    }
    this.#learnCommit(chunk.commitOffset);
    return { kind: "ok", lastOffset: this.#verifiedOffset, incarnation: this.incarnation };
  }

  #gap(): ReplicateReply {
    if (this.#diverged) return { kind: "gap", lastOffset: this.#lastOffset, incarnation: this.incarnation, diverged: true };
    return { kind: "gap", lastOffset: this.#lastOffset, incarnation: this.incarnation };
  }

  /** Whether the applied entry at `offset` is known to have another epoch than the leader's (`epoch`; -1: the leader does not know). */
  #appliedDiffers(offset: number, epoch: number): boolean {
    if (offset === 0 || offset > this.appliedOffset || epoch < 0) return false;
    const applied = this.#appliedEpochs.at(offset);
    return applied !== null && applied !== epoch;
  }

  /** The leader's log differs below what we applied: drop the unapplied, answer only `diverged` until a snapshot. */
  #diverge(): ReplicateReply {
    this.#diverged = true;
    this.#truncateAfter(this.appliedOffset);
    this.#verifiedOffset = 0;
    return this.#gap();
  }

  #heldAt(offset: number): Entry {
    return this.#pending[offset - this.appliedOffset - 1]!;
  }

  #truncateAfter(offset: number): void {
    if (offset >= this.#lastOffset) return;
    this.#pending.length = Math.max(0, offset - this.appliedOffset);
    this.#lastOffset = Math.max(offset, this.appliedOffset);
    const ready = this.#ready;
    ready.entries = ready.entries.filter((entry) => entry.offset <= this.#lastOffset);
    ready.truncatedAfter = Math.min(ready.truncatedAfter ?? this.#lastOffset, this.#lastOffset);
    this.#verifiedOffset = Math.min(this.#verifiedOffset, this.#lastOffset);
  }

  /** A newer leader: nothing beyond the applied state is verified against its log yet. */
  #enterEpoch(epoch: number, leaderId: string): void {
    this.leaderId = leaderId;
    if (epoch === this.epoch) return;
    this.epoch = epoch;
    this.#ready.epoch = epoch;
    // Nothing is verified against the new leader's log, not even what was applied; a newer
    // leader may hold what this one lacked, so divergence is judged anew too.
    this.#verifiedOffset = 0;
    this.#diverged = false;
    this.#knownCommitOffset = this.#state.appliedOffset;
    this.#staged = null;
    // The new leader's first message replaces the floor (it carries what that leader recovered).
    this.#floorCommitOffset = -1;
    this.#writeQuorumCommitOffset = -1;
  }

  /**
   * A lower floor is taken at once; a higher one only from a message with a later commit offset,
   * so a message sent before the quorum was lowered, arriving late, cannot raise it again.
   */
  #learnWriteQuorumFloor(floor: number, commitOffset: number): void {
    if (this.#writeQuorumFloor === null || floor < this.#writeQuorumFloor || commitOffset > this.#floorCommitOffset) {
      this.#writeQuorumFloor = floor;
      this.#floorCommitOffset = commitOffset;
    }
  }

  #learnCommit(commitOffset: number): void {
    this.#knownCommitOffset = Math.max(this.#knownCommitOffset, commitOffset);
    const commit = this.commitOffset;
    let applied = 0;
    while (applied < this.#pending.length && this.#pending[applied]!.offset <= commit) {
      const entry = this.#pending[applied]!;
      this.#state.apply(entry);
      this.#appliedEpochs.append(entry.offset, entry.epoch);
      this.#ready.committed = append(this.#ready.committed, entry);
      applied++;
    }
    if (applied > 0) this.#pending.splice(0, applied);
  }
}

function emptyReady(): FollowerReady {
  return { entries: none, truncatedAfter: null, epoch: null, writeQuorums: null, committed: none, snapshotInstalled: false };
}

/** Appends to a Ready's list, allocating it on the first entry. */
function append(list: readonly Entry[], entry: Entry): readonly Entry[] {
  if (list === none) return [entry];
  (list as Entry[]).push(entry);
  return list;
}

/**
 * The epoch of each applied offset, as runs (one per leader whose entries were applied), so a
 * follower can check the leader's prevOffset/prevEpoch below its applied offset. Before the
 * start (a snapshot's offset) epochs are unknown; only the newest epochRunsMax runs are kept.
 */
class EpochRuns {
  /** [first offset, epoch] of each run. */
  #runs: [number, number][] = [];
  #knownFrom: number;

  constructor(snapshotOffset = 0, snapshotEpoch = 0) {
    this.#knownFrom = snapshotOffset === 0 ? 1 : snapshotOffset;
    if (snapshotOffset > 0) this.#runs.push([snapshotOffset, snapshotEpoch]);
  }

  append(offset: number, epoch: number): void {
    if (this.#runs.at(-1)?.[1] === epoch) return;
    this.#runs.push([offset, epoch]);
    if (this.#runs.length > constants.epochRunsMax) {
      this.#runs.shift();
      this.#knownFrom = this.#runs[0]![0];
    }
  }

  /** The epoch of an applied offset, or null when no longer known. */
  at(offset: number): number | null {
    if (offset < this.#knownFrom) return null;
    for (let index = this.#runs.length - 1; index >= 0; index--) {
      if (this.#runs[index]![0] <= offset) return this.#runs[index]![1];
    }
    return null;
  }
}
