import type { FollowerPosition } from "../core/recovery.ts";
import type { ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotReply } from "../core/types.ts";
import {
  type Answer,
  type Body,
  type RecoveryData,
  readRecoveryStream,
  replicateReply,
  settle,
  snapshotReply,
  type Transport,
  type TransportReply,
  TransportError,
} from "./transport.ts";

/**
 * Replication over plain HTTP (`TRANSPORT=http`): one fetch per message to
 * `POST /internal/replicate|snapshot`, keep-alive connections from Bun's fetch. Fencing and
 * recovery are HTTP whatever the transport; StreamTransport uses `fenceOverHttp` and
 * `recoverOverHttp` below.
 */
export class HttpTransport implements Transport {
  readonly name = "http";
  readonly #headers: Record<string, string>;

  constructor(clusterToken: string) {
    this.#headers = authHeaders(clusterToken);
  }

  replicate(url: string, message: ReplicateMessage, timeoutMs: number, done: Answer<TransportReply<ReplicateReply>>): void {
    settle(
      post(`${url}/internal/replicate`, this.#headers, message, timeoutMs).then(({ status, body }) => replicateReply(url, status, body)),
      done,
    );
  }

  snapshot(url: string, chunk: SnapshotChunk, timeoutMs: number, done: Answer<TransportReply<SnapshotReply>>): void {
    settle(
      post(`${url}/internal/snapshot`, this.#headers, chunk, timeoutMs).then(({ status, body }) => snapshotReply(url, status, body)),
      done,
    );
  }

  fence(url: string, epoch: number, leaderId: string, timeoutMs: number, done: Answer<FollowerPosition>): void {
    settle(fenceOverHttp(url, this.#headers, epoch, leaderId, timeoutMs), done);
  }

  recover(url: string, timeoutMs: number, done: Answer<RecoveryData>): void {
    settle(recoverOverHttp(url, this.#headers, timeoutMs), done);
  }

  close(): void {}
}

export function authHeaders(clusterToken: string): Record<string, string> {
  return { authorization: `Bearer ${clusterToken}` };
}

async function post(url: string, headers: Record<string, string>, payload: unknown, timeoutMs: number): Promise<{ status: number; body: Body }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify(payload),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return { status: response.status, body: (await response.json().catch(() => null)) as Body };
}

/** `POST /internal/fence`: the follower adopts `epoch` and says where it was. */
export async function fenceOverHttp(
  url: string,
  headers: Record<string, string>,
  epoch: number,
  leaderId: string,
  timeoutMs: number,
): Promise<FollowerPosition> {
  const { status, body } = await post(`${url}/internal/fence`, headers, { epoch, leaderId }, timeoutMs);
  const numbers = ["epoch", "lastOffset", "lastEntryEpoch", "appliedOffset"] as const;
  if (status !== 200 || !body || numbers.some((name) => typeof body[name] !== "number")) {
    throw new TransportError(`${url}/internal/fence answered ${status}`);
  }
  const position = body as unknown as FollowerPosition;
  const floor = position.writeQuorumFloor;
  const quorum = position.writeQuorum;
  return {
    url,
    epoch: position.epoch,
    lastOffset: position.lastOffset,
    lastEntryEpoch: position.lastEntryEpoch,
    appliedOffset: position.appliedOffset,
    // A follower that never heard a floor (or an older version that does not say) reports none.
    writeQuorumFloor: Number.isInteger(floor) && (floor as number) >= 0 ? (floor as number) : null,
    writeQuorum: Number.isInteger(quorum) && (quorum as number) >= 0 ? (quorum as number) : null,
  };
}

/** `GET /internal/recover`: the follower's state and held entries, as NDJSON, read as it arrives; fails once idle for `idleTimeoutMs`. */
export async function recoverOverHttp(url: string, headers: Record<string, string>, idleTimeoutMs: number): Promise<RecoveryData> {
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(), idleTimeoutMs);
  const progressed = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(), idleTimeoutMs);
  };
  try {
    const response = await fetch(`${url}/internal/recover`, { headers, signal: controller.signal });
    if (!response.ok || !response.body) throw new TransportError(`${url}/internal/recover answered ${response.status}`);
    return await readRecoveryStream(response.body, progressed);
  } catch (error) {
    if (controller.signal.aborted) throw new TransportError(`${url}/internal/recover sent nothing for ${idleTimeoutMs} ms`);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
