import type { Cluster } from "../../src/cluster.ts";
import type { Operation } from "../../src/sim/linearizability.ts";

/**
 * A client of a PEERS cluster that follows the leader (421 → `leader`; 503 no_leader or a refused
 * connection → ask the nodes' /status), recording every operation for the linearizability check:
 * acknowledged writes and leader reads with their times, and writes whose outcome is unknown
 * (a timeout, a lost connection, 503 quorum_timeout) as never answered. A 421 or 503 no_leader
 * appended nothing, so it is not an operation.
 */
export class PeerClient {
  readonly history = new Map<string, Operation[]>();
  /** When each leader acknowledged its writes: [url, ms] in answer order. */
  readonly acks: { url: string; atMs: number }[] = [];
  readonly startMs = performance.now();
  leaderUrl: string;
  #rediscovering: Promise<void> | null = null;

  constructor(
    readonly nodes: readonly string[],
    firstLeader: string,
    readonly requestTimeoutMs = 3000,
  ) {
    this.leaderUrl = firstLeader;
  }

  static of(cluster: Cluster): PeerClient {
    return new PeerClient(
      cluster.nodes.map((node) => node.url),
      cluster.leader.url,
    );
  }

  #record(key: string, op: Operation): void {
    const ops = this.history.get(key) ?? [];
    ops.push(op);
    this.history.set(key, ops);
  }

  #nowUs(): number {
    return Math.round((performance.now() - this.startMs) * 1000);
  }

  /** Writes until acknowledged or `deadlineMs` passes; true once acknowledged. Unknown outcomes are recorded as such. */
  async put(key: string, value: unknown, deadlineMs = 20_000): Promise<boolean> {
    const text = JSON.stringify(value);
    const until = performance.now() + deadlineMs;
    while (performance.now() < until) {
      const url = this.leaderUrl;
      const invokeUs = this.#nowUs();
      let status: number;
      let body: Record<string, unknown> | null = null;
      try {
        const response = await fetch(`${url}/kv/${key}`, {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ value }),
          signal: AbortSignal.timeout(this.requestTimeoutMs),
        });
        status = response.status;
        body = (await response.json().catch(() => null)) as Record<string, unknown> | null;
      } catch {
        this.#record(key, { kind: "write", value: text, invokeUs, responseUs: Number.POSITIVE_INFINITY });
        await this.rediscover();
        continue;
      }
      if (status === 200) {
        this.#record(key, { kind: "write", value: text, invokeUs, responseUs: this.#nowUs() });
        this.acks.push({ url, atMs: performance.now() });
        return true;
      }
      if (status === 421 && typeof body?.leader === "string") {
        this.leaderUrl = body.leader;
        continue;
      }
      if (status === 503 && body?.error === "no_leader") {
        await this.rediscover();
        continue;
      }
      // quorum_timeout and the like: in the log, it may still commit.
      this.#record(key, { kind: "write", value: text, invokeUs, responseUs: Number.POSITIVE_INFINITY });
      await this.rediscover();
    }
    return false;
  }

  /** A read at the leader, recorded when the leader answered it (200 or 404). */
  async get(key: string): Promise<void> {
    const invokeUs = this.#nowUs();
    try {
      const response = await fetch(`${this.leaderUrl}/kv/${key}`, { signal: AbortSignal.timeout(this.requestTimeoutMs) });
      const body = (await response.json().catch(() => null)) as Record<string, unknown> | null;
      if (response.status === 200) this.#record(key, { kind: "read", value: JSON.stringify(body?.value), invokeUs, responseUs: this.#nowUs() });
      else if (response.status === 404) this.#record(key, { kind: "read", value: null, invokeUs, responseUs: this.#nowUs() });
      else if (response.status === 421 && typeof body?.leader === "string") this.leaderUrl = body.leader;
    } catch {
      await this.rediscover();
    }
  }

  /** Polls every node's /status (bounded backoff) until one says it leads; shared by every caller waiting at once. */
  rediscover(): Promise<void> {
    this.#rediscovering ??= (async () => {
      for (let backoffMs = 5; ; backoffMs = Math.min(25, backoffMs * 2)) {
        const leader = await findLeader(this.nodes);
        if (leader) {
          this.leaderUrl = leader;
          return;
        }
        await Bun.sleep(backoffMs);
      }
    })().finally(() => {
      this.#rediscovering = null;
    });
    return this.#rediscovering;
  }
}

/** The URL of the node that says it leads, or null. */
export async function findLeader(nodes: readonly string[]): Promise<string | null> {
  const answers = await Promise.all(
    nodes.map(async (url) => {
      try {
        const response = await fetch(`${url}/status`, { signal: AbortSignal.timeout(300) });
        const status = (await response.json()) as { role?: string };
        return status.role === "leader" ? url : null;
      } catch {
        return null;
      }
    }),
  );
  return answers.find((url) => url !== null) ?? null;
}

/** `count` loops of writes (and a read every few) over `keys` shared keys, until stopped. */
export function clientLoad(client: PeerClient, options: { count: number; keys: number; failed?: string[] }) {
  let running = true;
  let sequence = 0;
  const loop = async (index: number) => {
    while (running) {
      const id = sequence++;
      const key = `k${id % options.keys}`;
      const ok = await client.put(key, `v${index}-${id}`);
      if (!ok) options.failed?.push(key);
      if (id % 4 === 0) await client.get(key);
    }
  };
  const loops = Array.from({ length: options.count }, (_, index) => loop(index));
  return {
    async stop(): Promise<void> {
      running = false;
      await Promise.all(loops);
    },
  };
}
