import type { FollowerPosition } from "../core/recovery.ts";
import type { RecoveryData, ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotReply } from "../core/types.ts";
import type { FollowerNode } from "./follower-node.ts";
import { type Answer, type Transport, type TransportReply, TransportError } from "./transport.ts";

/**
 * A Transport that hands messages straight to FollowerNodes in this process (through a JSON
 * round trip, as the wire would). For HTTP tests through `app.request` and for benchmarks of
 * the write path without sockets. A follower can be cut off to simulate an outage.
 */
export class InProcessTransport implements Transport {
  readonly name = "in-process";
  readonly #followers = new Map<string, FollowerNode>();
  readonly #down = new Set<string>();

  add(url: string, follower: FollowerNode): void {
    this.#followers.set(url, follower);
  }

  setDown(url: string, down: boolean): void {
    if (down) this.#down.add(url);
    else this.#down.delete(url);
  }

  replicate(url: string, message: ReplicateMessage, _timeoutMs: number, done: Answer<TransportReply<ReplicateReply>>): void {
    this.#reach(url, done, (follower) => follower.replicate(roundTrip(message), (reply) => done({ reply, nodeId: follower.config.nodeId })));
  }

  snapshot(url: string, chunk: SnapshotChunk, _timeoutMs: number, done: Answer<TransportReply<SnapshotReply>>): void {
    this.#reach(url, done, (follower) => follower.receiveSnapshot(roundTrip(chunk), (reply) => done({ reply, nodeId: follower.config.nodeId })));
  }

  fence(url: string, epoch: number, leaderId: string, _timeoutMs: number, done: Answer<FollowerPosition>): void {
    this.#reach(url, done, (follower) => follower.fence(epoch, leaderId, (position) => done({ ...position, url })));
  }

  recover(url: string, _timeoutMs: number, done: Answer<RecoveryData>): void {
    this.#reach(url, done, (follower) => done(roundTrip(follower.recoveryData())));
  }

  close(): void {}

  /** Runs `call` on the follower after the current task, as a network would; unreachable ones fail. */
  #reach<Value>(url: string, done: Answer<Value>, call: (follower: FollowerNode) => void): void {
    queueMicrotask(() => {
      const follower = this.#followers.get(url);
      if (!follower || this.#down.has(url)) done(new TransportError(`${url} unreachable`));
      else call(follower);
    });
  }
}

const roundTrip = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
