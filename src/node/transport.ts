import type { ReplicateMessage, ReplicateReply } from "../core/types.ts";

/** How the leader reaches a follower. HTTP in production; the simulator and tests may swap it. */
export interface Transport {
  replicate(followerUrl: string, message: ReplicateMessage, timeoutMs: number): Promise<TransportReply>;
}

export interface TransportReply {
  reply: ReplicateReply;
  /** The follower's NODE_ID, when it said. */
  nodeId?: string;
}

export class TransportError extends Error {
  override name = "TransportError";
}

/** Replicate over HTTP with the cluster token; keep-alive connections come from Bun's fetch. */
export class HttpTransport implements Transport {
  readonly #headers: Record<string, string>;

  constructor(clusterToken: string) {
    this.#headers = { authorization: `Bearer ${clusterToken}`, "content-type": "application/json" };
  }

  async replicate(followerUrl: string, message: ReplicateMessage, timeoutMs: number): Promise<TransportReply> {
    const response = await fetch(`${followerUrl}/internal/replicate`, {
      method: "POST",
      headers: this.#headers,
      body: JSON.stringify(message),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.json().catch(() => null)) as Record<string, unknown> | null;
    const nodeId = typeof body?.nodeId === "string" ? body.nodeId : undefined;
    if (response.status === 200 && typeof body?.lastOffset === "number") {
      return { reply: { kind: "ok", lastOffset: body.lastOffset }, nodeId };
    }
    if (response.status === 409 && body?.error === "gap" && typeof body.lastOffset === "number") {
      return { reply: { kind: "gap", lastOffset: body.lastOffset }, nodeId };
    }
    if (response.status === 409 && body?.error === "stale_epoch" && typeof body.epoch === "number") {
      return { reply: { kind: "stale_epoch", epoch: body.epoch }, nodeId };
    }
    throw new TransportError(`${followerUrl} answered ${response.status} ${JSON.stringify(body)}`);
  }
}
