import type { FollowerPosition } from "../core/recovery.ts";
import type { RecoveryData, ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotReply } from "../core/types.ts";
import type { FollowerNode } from "./follower-node.ts";
import { authHeaders } from "./http-transport.ts";
import { type Answer, settle, type Transport, TransportError, type TransportReply } from "./transport.ts";

/** A candidate's question before it stands: would you vote for a candidate at `epoch`? Nothing changes on the node asked. */
export interface PreVoteRequest {
  epoch: number;
  candidate: string;
}

export interface PreVoteAnswer {
  granted: boolean;
  /** The epoch the node asked has promised. */
  epoch: number;
}

/** A leader handing over (POST /admin/step-down): the follower it chose stands at once, without a pre-vote. */
export interface TimeoutNowRequest {
  epoch: number;
  leader: string;
}

/** The election messages between PEERS beside the leader's Transport: HTTP in production, the simulated network in src/sim. */
export interface PeerRpc {
  preVote(url: string, request: PreVoteRequest, timeoutMs: number, done: Answer<PreVoteAnswer>): void;
  timeoutNow(url: string, request: TimeoutNowRequest, timeoutMs: number, done: Answer<{ started: boolean }>): void;
}

export class HttpPeerRpc implements PeerRpc {
  readonly #headers: Record<string, string>;

  constructor(clusterToken: string) {
    this.#headers = { ...authHeaders(clusterToken), "content-type": "application/json" };
  }

  preVote(url: string, request: PreVoteRequest, timeoutMs: number, done: Answer<PreVoteAnswer>): void {
    settle(
      this.#post(`${url}/internal/pre-vote`, request, timeoutMs).then((body) => {
        if (typeof body?.granted !== "boolean" || typeof body.epoch !== "number") throw new TransportError(`${url}: no pre-vote answer`);
        return { granted: body.granted, epoch: body.epoch };
      }),
      done,
    );
  }

  timeoutNow(url: string, request: TimeoutNowRequest, timeoutMs: number, done: Answer<{ started: boolean }>): void {
    settle(
      this.#post(`${url}/internal/timeout-now`, request, timeoutMs).then((body) => ({ started: body?.started === true })),
      done,
    );
  }

  async #post(url: string, payload: unknown, timeoutMs: number): Promise<Record<string, unknown> | null> {
    const response = await fetch(url, { method: "POST", headers: this.#headers, body: JSON.stringify(payload), signal: AbortSignal.timeout(timeoutMs) });
    const body = (await response.json().catch(() => null)) as Record<string, unknown> | null;
    if (!response.ok) throw new TransportError(`${url} answered ${response.status} ${JSON.stringify(body)}`);
    return body;
  }
}

/**
 * A candidate is one of its voters: the election asks every peer, and the candidate's own fence
 * (its vote for itself, promised before it counts) and data are answered here, without the network.
 */
export function withSelf(transport: Transport, selfUrl: string, self: () => FollowerNode): Transport {
  return {
    name: transport.name,
    replicate(url: string, message: ReplicateMessage, timeoutMs: number, done: Answer<TransportReply<ReplicateReply>>): void {
      transport.replicate(url, message, timeoutMs, done);
    },
    snapshot(url: string, chunk: SnapshotChunk, timeoutMs: number, done: Answer<TransportReply<SnapshotReply>>): void {
      transport.snapshot(url, chunk, timeoutMs, done);
    },
    fence(url: string, epoch: number, leaderId: string, timeoutMs: number, done: Answer<FollowerPosition>): void {
      if (url === selfUrl) self().fence(epoch, leaderId, (position) => done({ ...position, url }));
      else transport.fence(url, epoch, leaderId, timeoutMs, done);
    },
    recover(url: string, timeoutMs: number, done: Answer<RecoveryData>): void {
      if (url === selfUrl) done(self().recoveryData());
      else transport.recover(url, timeoutMs, done);
    },
    close(): void {
      transport.close();
    },
  };
}
