import type { FollowerPosition } from "../core/recovery.ts";
import type { ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotReply } from "../core/types.ts";
import type { FollowerNode } from "./follower-node.ts";
import { type RecoveryData, type Transport, type TransportReply, TransportError } from "./transport.ts";

/**
 * A Transport that hands messages straight to FollowerNodes in this process (through a JSON
 * round trip, as the wire would). For HTTP tests through `app.request` and for benchmarks of
 * the write path without sockets. A follower can be cut off to simulate an outage.
 */
export class InProcessTransport implements Transport {
  readonly #followers = new Map<string, FollowerNode>();
  readonly #down = new Set<string>();

  add(url: string, follower: FollowerNode): void {
    this.#followers.set(url, follower);
  }

  setDown(url: string, down: boolean): void {
    if (down) this.#down.add(url);
    else this.#down.delete(url);
  }

  async replicate(url: string, message: ReplicateMessage): Promise<TransportReply<ReplicateReply>> {
    const follower = this.#reach(url);
    return { reply: await follower.replicate(roundTrip(message)), nodeId: follower.config.nodeId };
  }

  async snapshot(url: string, chunk: SnapshotChunk): Promise<TransportReply<SnapshotReply>> {
    const follower = this.#reach(url);
    return { reply: follower.receiveSnapshot(roundTrip(chunk)), nodeId: follower.config.nodeId };
  }

  async fence(url: string, epoch: number, leaderId: string): Promise<FollowerPosition> {
    return { ...this.#reach(url).fence(epoch, leaderId), url };
  }

  async recover(url: string): Promise<RecoveryData> {
    return roundTrip(this.#reach(url).recoveryData());
  }

  #reach(url: string): FollowerNode {
    const follower = this.#followers.get(url);
    if (!follower || this.#down.has(url)) throw new TransportError(`${url} unreachable`);
    return follower;
  }
}

const roundTrip = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
