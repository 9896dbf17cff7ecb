import type { FollowerPosition } from "../core/recovery.ts";
import type { ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotReply } from "../core/types.ts";
import { authHeaders, fenceOverHttp, recoverOverHttp } from "./http-transport.ts";
import {
  type Answer,
  type Body,
  type RecoveryData,
  replicateReply,
  settle,
  snapshotReply,
  type Transport,
  type TransportReply,
  TransportError,
} from "./transport.ts";

interface FrameAnswer {
  status: number;
  body: Body;
}

interface Pending {
  done: (answer: FrameAnswer | TransportError) => void;
  deadlineMs: number;
  timeoutMs: number;
}

/**
 * One WebSocket to one follower's `/internal/stream`, opened on first use and again after it
 * closes. Answers come back through callbacks, and one timer (armed for the earliest deadline)
 * times out the messages in flight: no Promise and no timer per message on the leader's hottest
 * path (issue 16).
 */
class FollowerStream {
  #socket: WebSocket | null = null;
  #opening: WebSocket | null = null;
  /** Frames sent while the socket was not open yet: they go out once it opens. */
  #unsent: string[] = [];
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #timerAtMs = Number.POSITIVE_INFINITY;

  constructor(
    private readonly url: string,
    private readonly headers: Record<string, string>,
  ) {}

  send(kind: "replicate" | "snapshot", body: unknown, timeoutMs: number, done: (answer: FrameAnswer | TransportError) => void): void {
    const id = this.#nextId++;
    const deadlineMs = performance.now() + timeoutMs;
    this.#pending.set(id, { done, deadlineMs, timeoutMs });
    if (deadlineMs < this.#timerAtMs) this.#armTimer(deadlineMs);
    const frame = JSON.stringify({ id, kind, body });
    if (this.#socket?.readyState === WebSocket.OPEN) this.#socket.send(frame);
    else {
      this.#unsent.push(frame);
      this.#open(timeoutMs);
    }
  }

  #open(timeoutMs: number): void {
    if (this.#opening) return;
    const streamUrl = `${this.url.replace(/^http/, "ws")}/internal/stream`;
    let socket: WebSocket;
    try {
      // Bun's WebSocket client takes headers: the stream is behind the cluster token too.
      socket = new WebSocket(streamUrl, { headers: this.headers } as unknown as string[]);
    } catch (error) {
      // Answered after this call returns, as every other answer is.
      queueMicrotask(() => this.#failAll(new TransportError(`${streamUrl}: ${String(error)}`)));
      return;
    }
    this.#opening = socket;
    const timer = setTimeout(() => socket.close(), timeoutMs);
    socket.onopen = () => {
      clearTimeout(timer);
      this.#socket = socket;
      this.#opening = null;
      for (const frame of this.#unsent) socket.send(frame);
      this.#unsent = [];
    };
    socket.onmessage = (event) => this.#answer(String(event.data));
    socket.onclose = () => {
      clearTimeout(timer);
      if (this.#socket === socket) this.#socket = null;
      if (this.#opening === socket) this.#opening = null;
      this.#failAll(new TransportError(`${streamUrl} closed`));
    };
  }

  #answer(text: string): void {
    const frame = JSON.parse(text) as { id: number; status: number; body: Body };
    const pending = this.#pending.get(frame.id);
    if (!pending) return; // timed out already
    this.#pending.delete(frame.id);
    pending.done(frame);
  }

  /** Fires at the earliest deadline: times out what is due, then waits for the next one. */
  #armTimer(atMs: number): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerAtMs = atMs;
    this.#timer = setTimeout(() => this.#expire(), Math.max(1, atMs - performance.now()));
  }

  #expire(): void {
    this.#timer = null;
    this.#timerAtMs = Number.POSITIVE_INFINITY;
    const nowMs = performance.now();
    let nextMs = Number.POSITIVE_INFINITY;
    for (const [id, pending] of this.#pending) {
      if (pending.deadlineMs > nowMs) {
        nextMs = Math.min(nextMs, pending.deadlineMs);
        continue;
      }
      this.#pending.delete(id);
      pending.done(new TransportError(`${this.url}: no answer to message ${id} within ${pending.timeoutMs} ms`));
    }
    if (nextMs < this.#timerAtMs) this.#armTimer(nextMs);
  }

  close(): void {
    this.#socket?.close();
    this.#opening?.close();
  }

  #failAll(error: TransportError): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#unsent = [];
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAtMs = Number.POSITIVE_INFINITY;
    for (const { done } of pending) done(error);
  }
}

/** Turns a frame's answer into a reply (or a TransportError) for `done`. */
function answerWith<Reply>(url: string, toReply: (url: string, status: number, body: Body) => Reply, done: Answer<Reply>) {
  return (answer: FrameAnswer | TransportError) => {
    if (answer instanceof TransportError) {
      done(answer);
      return;
    }
    let reply: Reply;
    try {
      reply = toReply(url, answer.status, answer.body);
    } catch (error) {
      done(error instanceof TransportError ? error : new TransportError(String(error)));
      return;
    }
    done(reply);
  };
}

/**
 * Replication over one WebSocket per follower (`/internal/stream`, `TRANSPORT=websocket`), the
 * same messages and answers as `POST /internal/replicate|snapshot`; fencing and recovery, once
 * per leader start, are plain HTTP.
 */
export class StreamTransport implements Transport {
  readonly name = "websocket";
  readonly #streams = new Map<string, FollowerStream>();
  readonly #headers: Record<string, string>;

  constructor(clusterToken: string) {
    this.#headers = authHeaders(clusterToken);
  }

  replicate(url: string, message: ReplicateMessage, timeoutMs: number, done: Answer<TransportReply<ReplicateReply>>): void {
    this.#stream(url).send("replicate", message, timeoutMs, answerWith(url, replicateReply, done));
  }

  snapshot(url: string, chunk: SnapshotChunk, timeoutMs: number, done: Answer<TransportReply<SnapshotReply>>): void {
    this.#stream(url).send("snapshot", chunk, timeoutMs, answerWith(url, snapshotReply, done));
  }

  fence(url: string, epoch: number, leaderId: string, timeoutMs: number, done: Answer<FollowerPosition>): void {
    settle(fenceOverHttp(url, this.#headers, epoch, leaderId, timeoutMs), done);
  }

  recover(url: string, timeoutMs: number, done: Answer<RecoveryData>): void {
    settle(recoverOverHttp(url, this.#headers, timeoutMs), done);
  }

  close(): void {
    for (const stream of this.#streams.values()) stream.close();
    this.#streams.clear();
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
