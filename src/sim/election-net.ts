import type { FollowerPosition } from "../core/recovery.ts";
import type { RecoveryData, ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotReply } from "../core/types.ts";
import type { Clock } from "../node/env.ts";
import { FollowerNode } from "../node/follower-node.ts";
import type { PeerNode } from "../node/peer-node.ts";
import type { PeerRpc, PreVoteAnswer, PreVoteRequest, TimeoutNowRequest } from "../node/peer-transport.ts";
import { type Answer, type Transport, TransportError, type TransportReply } from "../node/transport.ts";
import type { EventQueue } from "./event-queue.ts";
import type { Random } from "./random.ts";
import type { ProcessTimers } from "./sim-env.ts";
import type { Trace } from "./trace.ts";

/** One machine of an election run: its URL, and the process running there now (null while it is down). */
export interface PeerMachine {
  readonly url: string;
  readonly index: number;
  peer: PeerNode | null;
  timers: ProcessTimers | null;
}

/**
 * The network between PEERS in an election run (src/sim/election-sim.ts): every hop gets its own
 * uniform delay, so messages overtake each other; while faults are on, some are dropped; a link
 * may be cut one way until a given time. A call to a machine that is down fails (a refused
 * connection) after the hop; an answer to a process that died since is lost with it.
 */
export class PeerNetwork {
  lossy = true;
  readonly #cutUntilUs: number[][];

  constructor(
    readonly queue: EventQueue,
    readonly rng: Random,
    readonly trace: Trace,
    readonly machines: readonly PeerMachine[],
    readonly linkDelayUs: { minUs: number; maxUs: number },
    readonly dropProbability: number,
  ) {
    this.#cutUntilUs = machines.map(() => machines.map(() => 0));
  }

  /** Cuts every link between the two groups, both ways, until `untilUs`. */
  partition(group: readonly number[], untilUs: number): void {
    for (const a of group) {
      for (const b of this.machines.map((machine) => machine.index)) {
        if (group.includes(b)) continue;
        this.#cutUntilUs[a]![b] = Math.max(this.#cutUntilUs[a]![b]!, untilUs);
        this.#cutUntilUs[b]![a] = Math.max(this.#cutUntilUs[b]![a]!, untilUs);
      }
    }
  }

  healAll(): void {
    for (const row of this.#cutUntilUs) row.fill(0);
  }

  cut(from: number, to: number): boolean {
    return this.queue.nowUs < this.#cutUntilUs[from]![to]!;
  }

  /** One hop; `deliver` is not called when the message is dropped or cut. */
  hop(from: number, to: number, deliver: () => void): void {
    if (this.lossy && this.rng.chance(this.dropProbability)) return;
    this.queue.after(this.rng.int(this.linkDelayUs.minUs, this.linkDelayUs.maxUs), () => {
      if (!this.cut(from, to)) deliver();
    });
  }

  /**
   * A call from `from` to the machine at `url`: `run` on its PeerNode, the answer back; settles
   * once (first answer, or a TransportError at the caller's timeout or a refused connection).
   */
  call<Value>(
    from: PeerMachine,
    url: string,
    timeoutMs: number,
    done: Answer<Value>,
    run: (peer: PeerNode, reply: (value: Value | TransportError) => void) => void,
  ): void {
    const callerTimers = from.timers!;
    const target = this.machines.find((machine) => machine.url === url);
    let settled = false;
    const settle = (answer: Value | TransportError) => {
      if (settled || !callerTimers.alive) return;
      settled = true;
      done(answer);
    };
    callerTimers.after(timeoutMs, () => settle(new TransportError(`${url}: no answer within ${timeoutMs} ms`)));
    if (!target) {
      settle(new TransportError(`${url}: no such machine`));
      return;
    }
    this.hop(from.index, target.index, () => {
      const peer = target.peer;
      const targetTimers = target.timers;
      if (!peer || !targetTimers) {
        this.hop(target.index, from.index, () => settle(new TransportError(`${url}: connection refused`)));
        return;
      }
      run(peer, (answer) => {
        if (!targetTimers.alive) return; // it died before answering: the caller times out
        this.hop(target.index, from.index, () => settle(answer));
      });
    });
  }

  /** The Transport a PeerNode leads (and stands) with. */
  transport(from: PeerMachine): Transport {
    return {
      name: "simulated",
      replicate: (url: string, message: ReplicateMessage, timeoutMs: number, done: Answer<TransportReply<ReplicateReply>>) =>
        this.call(from, url, timeoutMs, done, (peer, reply) => {
          const follower = peer.followerFor(message.epoch);
          if (follower instanceof FollowerNode) follower.replicate(message, (answer) => reply({ reply: answer }));
          else reply({ reply: { kind: "stale_epoch", epoch: follower.leaderEpoch } });
        }),
      snapshot: (url: string, chunk: SnapshotChunk, timeoutMs: number, done: Answer<TransportReply<SnapshotReply>>) =>
        this.call(from, url, timeoutMs, done, (peer, reply) => {
          const follower = peer.followerFor(chunk.epoch);
          if (follower instanceof FollowerNode) follower.receiveSnapshot(chunk, (answer) => reply({ reply: answer }));
          else reply({ reply: { kind: "stale_epoch", epoch: follower.leaderEpoch } });
        }),
      fence: (url: string, epoch: number, leaderId: string, timeoutMs: number, done: Answer<FollowerPosition>) =>
        this.call(from, url, timeoutMs, done, (peer, reply) => {
          const follower = peer.followerFor(epoch);
          if (follower instanceof FollowerNode) {
            follower.fence(epoch, leaderId, (position) => reply({ ...position, url }));
            return;
          }
          const node = peer.current;
          reply({
            url,
            epoch: follower.leaderEpoch,
            lastOffset: node.lastOffset,
            lastEntryEpoch: node.lastEntryEpoch,
            appliedOffset: node.state.appliedOffset,
          });
        }),
      recover: (url: string, timeoutMs: number, done: Answer<RecoveryData>) =>
        this.call(from, url, timeoutMs, done, (peer, reply) => {
          const follower = peer.followerFor(0);
          reply(follower instanceof FollowerNode ? follower.recoveryData() : new TransportError(`${url} leads`));
        }),
      close() {},
    };
  }

  rpc(from: PeerMachine): PeerRpc {
    return {
      preVote: (url: string, request: PreVoteRequest, timeoutMs: number, done: Answer<PreVoteAnswer>) =>
        this.call(from, url, timeoutMs, done, (peer, reply) => reply(peer.preVote(request))),
      timeoutNow: (url: string, request: TimeoutNowRequest, timeoutMs: number, done: Answer<{ started: boolean }>) =>
        this.call(from, url, timeoutMs, done, (peer, reply) => reply({ started: peer.timeoutNow(request) })),
    };
  }
}

/** A clock shared by every machine (the run has no clock steps). */
export function sharedClock(queue: EventQueue): Clock {
  return { nowMs: () => queue.nowUs / 1000 };
}
