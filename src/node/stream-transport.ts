import type { FollowerPosition } from "../core/recovery.ts";
import type { ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotReply } from "../core/types.ts";
import {
  type Body,
  type RecoveryData,
  readRecoveryStream,
  replicateReply,
  snapshotReply,
  type Transport,
  type TransportReply,
  TransportError,
} from "./transport.ts";

interface Pending {
  resolve: (answer: { status: number; body: Body }) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** One WebSocket to one follower's `/internal/stream`, opened on first use and again after it closes. */
class FollowerStream {
  #socket: WebSocket | null = null;
  #opening: Promise<WebSocket> | null = null;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;

  constructor(
    private readonly url: string,
    private readonly headers: Record<string, string>,
  ) {}

  async send(kind: "replicate" | "snapshot", body: unknown, timeoutMs: number): Promise<{ status: number; body: Body }> {
    const socket = await this.#open(timeoutMs);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new TransportError(`${this.url}: no answer to message ${id} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      socket.send(JSON.stringify({ id, kind, body }));
    });
  }

  #open(timeoutMs: number): Promise<WebSocket> {
    if (this.#socket?.readyState === WebSocket.OPEN) return Promise.resolve(this.#socket);
    this.#opening ??= new Promise<WebSocket>((resolve, reject) => {
      const streamUrl = `${this.url.replace(/^http/, "ws")}/internal/stream`;
      // Bun's WebSocket client takes headers: the stream is behind the cluster token too.
      const socket = new WebSocket(streamUrl, { headers: this.headers } as unknown as string[]);
      const timer = setTimeout(() => socket.close(), timeoutMs);
      socket.onopen = () => {
        clearTimeout(timer);
        this.#socket = socket;
        this.#opening = null;
        resolve(socket);
      };
      socket.onmessage = (event) => this.#answer(String(event.data));
      socket.onclose = () => {
        clearTimeout(timer);
        if (this.#socket === socket) this.#socket = null;
        this.#opening = null;
        reject(new TransportError(`${streamUrl} closed`));
        this.#failAll(new TransportError(`${streamUrl} closed`));
      };
    });
    return this.#opening;
  }

  #answer(text: string): void {
    const frame = JSON.parse(text) as { id: number; status: number; body: Body };
    const pending = this.#pending.get(frame.id);
    if (!pending) return; // timed out already
    this.#pending.delete(frame.id);
    clearTimeout(pending.timer);
    pending.resolve(frame);
  }

  #failAll(error: Error): void {
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    this.#pending.clear();
  }
}

/**
 * Replication over one WebSocket per follower (`/internal/stream`), the same messages and
 * answers as `POST /internal/replicate|snapshot`; fencing and recovery, once per leader start,
 * are plain HTTP.
 */
export class StreamTransport implements Transport {
  readonly #streams = new Map<string, FollowerStream>();
  readonly #headers: Record<string, string>;

  constructor(clusterToken: string) {
    this.#headers = { authorization: `Bearer ${clusterToken}` };
  }

  async replicate(url: string, message: ReplicateMessage, timeoutMs: number): Promise<TransportReply<ReplicateReply>> {
    const { status, body } = await this.#stream(url).send("replicate", message, timeoutMs);
    return replicateReply(url, status, body);
  }

  async snapshot(url: string, chunk: SnapshotChunk, timeoutMs: number): Promise<TransportReply<SnapshotReply>> {
    const { status, body } = await this.#stream(url).send("snapshot", chunk, timeoutMs);
    return snapshotReply(url, status, body);
  }

  async fence(url: string, epoch: number, leaderId: string, timeoutMs: number): Promise<FollowerPosition> {
    const response = await fetch(`${url}/internal/fence`, {
      method: "POST",
      headers: { ...this.#headers, "content-type": "application/json" },
      body: JSON.stringify({ epoch, leaderId }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.json().catch(() => null)) as FollowerPosition | null;
    if (response.status !== 200 || !body) throw new TransportError(`${url}/internal/fence answered ${response.status}`);
    const floor = body.writeQuorumFloor;
    return {
      url,
      epoch: body.epoch,
      lastOffset: body.lastOffset,
      lastEntryEpoch: body.lastEntryEpoch,
      appliedOffset: body.appliedOffset,
      // A follower that never heard a floor (or an older version that does not say) reports none.
      writeQuorumFloor: Number.isInteger(floor) && (floor as number) >= 0 ? (floor as number) : null,
    };
  }

  async recover(url: string, idleTimeoutMs: number): Promise<RecoveryData> {
    const controller = new AbortController();
    let timer = setTimeout(() => controller.abort(), idleTimeoutMs);
    const progressed = () => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(), idleTimeoutMs);
    };
    try {
      const response = await fetch(`${url}/internal/recover`, { headers: this.#headers, signal: controller.signal });
      if (!response.ok || !response.body) throw new TransportError(`${url}/internal/recover answered ${response.status}`);
      return await readRecoveryStream(response.body, progressed);
    } catch (error) {
      if (controller.signal.aborted) throw new TransportError(`${url}/internal/recover sent nothing for ${idleTimeoutMs} ms`);
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  #stream(url: string): FollowerStream {
    let stream = this.#streams.get(url);
    if (!stream) {
      stream = new FollowerStream(url, this.#headers);
      this.#streams.set(url, stream);
    }
    return stream;
  }
}
