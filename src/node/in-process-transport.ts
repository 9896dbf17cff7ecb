import type { ReplicateMessage } from "../core/types.ts";
import type { FollowerNode } from "./follower-node.ts";
import { type Transport, type TransportReply, TransportError } from "./transport.ts";

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

  async replicate(followerUrl: string, message: ReplicateMessage): Promise<TransportReply> {
    const follower = this.#followers.get(followerUrl);
    if (!follower || this.#down.has(followerUrl)) throw new TransportError(`${followerUrl} unreachable`);
    const reply = await follower.replicate(JSON.parse(JSON.stringify(message)));
    return { reply, nodeId: follower.config.nodeId };
  }
}
