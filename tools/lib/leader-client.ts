import { TargetError } from "./target-error.ts";
import { isBaseUrl, trimSlash } from "./urls.ts";

/**
 * Sends writes to whichever node leads (DESIGN §9, "tools follow the leader"): a 421 names the
 * leader, so the write goes there; a 503 `no_leader` (an election) or a refused connection (the
 * leader is gone) means polling every known node's GET /status, with bounded backoff, until one
 * leads. Those answers never reached a leader, so resending is safe. A connection reset or a
 * timeout after the write was sent is different: the leader may have logged it before it died,
 * and a new leader may commit it, so the write is indeterminate and is not resent.
 */

/** Bound on following one write to a leader (redirects, elections, a dead leader), all told. */
export const leaderWaitMsDefault = 10_000;
/** Bound on one GET /status while looking for the leader. */
const statusTimeoutMs = 1000;
/**
 * Backoff between polling rounds: doubles from the first to the max. The max is small because a
 * client notices the new leader up to one interval late, which adds to the failover window it
 * sees; a round is one GET /status per node.
 */
const backoffFirstMs = 10;
const backoffMaxMs = 50;
/** 421s followed in a row before asking every node instead (two nodes naming each other). */
const redirectHopsMax = 4;
/** Bound on a write's own answer; one not answered by then is indeterminate. */
const requestTimeoutMsDefault = 30_000;

/** No node led within the bound. */
export class NoLeaderError extends TargetError {
  override name = "NoLeaderError";
}

/** The write was sent and its fate is unknown: the connection broke or timed out before an answer. */
export class IndeterminateError extends Error {
  override name = "IndeterminateError";
  constructor(
    readonly url: string,
    /** The network error's code (ECONNRESET, TimeoutError, …). */
    readonly code: string,
  ) {
    super(`${url} did not answer (${code}): the write may or may not have been applied`);
  }
}

export interface LeaderAnswer {
  status: number;
  text: string;
  /** The node that answered: the leader, unless the answer is an error from elsewhere. */
  url: string;
}

/** What a node's GET /status says about leadership (PEERS mode; a fixed-role leader has no epoch). */
interface StatusView {
  url: string;
  role?: string;
  epoch?: number;
  leader?: string | null;
  peers?: string[];
  followers?: { url: string }[];
}

export interface LeaderClientOptions {
  /** Where to start: the leader as far as the caller knows. */
  leaderUrl: string;
  /** Every node the caller knows of (cluster.json `nodes`, --peers); more are learnt from /status. */
  nodeUrls?: readonly string[];
  leaderWaitMs?: number;
  requestTimeoutMs?: number;
}

export function networkErrorCode(error: unknown): string {
  const { name, code } = error as Error & { code?: string };
  return name === "TimeoutError" ? "timeout" : (code ?? name);
}

/** Nothing was sent: nobody listens there (a killed node, or one still starting). */
const isRefused = (error: unknown) => ["ECONNREFUSED", "ConnectionRefused"].includes(networkErrorCode(error));

function errorField(text: string): { error?: unknown; leader?: unknown } {
  try {
    return JSON.parse(text) as { error?: unknown; leader?: unknown };
  } catch {
    return {};
  }
}

export class LeaderClient {
  #leader: string;
  readonly #nodes: Set<string>;
  readonly #leaderWaitMs: number;
  readonly #requestTimeoutMs: number;
  /** One search at a time: twenty clients that lose the leader together share it. */
  #search: Promise<string> | null = null;

  constructor(options: LeaderClientOptions) {
    this.#leader = trimSlash(options.leaderUrl);
    this.#nodes = new Set([this.#leader, ...(options.nodeUrls ?? []).map(trimSlash)]);
    this.#leaderWaitMs = options.leaderWaitMs ?? leaderWaitMsDefault;
    this.#requestTimeoutMs = options.requestTimeoutMs ?? requestTimeoutMsDefault;
  }

  /** The node writes go to now. */
  get leaderUrl(): string {
    return this.#leader;
  }

  /** Every node known so far. */
  get nodeUrls(): string[] {
    return [...this.#nodes];
  }

  /**
   * Sends a write to the leader and returns its answer (any status but 421 and 503 no_leader).
   * Throws IndeterminateError when the connection broke after sending, NoLeaderError when no
   * leader took it within leaderWaitMs.
   */
  async send(path: string, init: RequestInit): Promise<LeaderAnswer> {
    const deadlineMs = performance.now() + this.#leaderWaitMs;
    let hops = 0;
    let backoffMs = backoffFirstMs;
    let lastRefusal = "";
    for (;;) {
      const url = this.#leader;
      let response: Response;
      try {
        response = await fetch(`${url}${path}`, { ...init, signal: AbortSignal.timeout(this.#requestTimeoutMs) });
      } catch (error) {
        if (!isRefused(error)) throw new IndeterminateError(url, networkErrorCode(error));
        lastRefusal = `${url} refused the connection`;
        backoffMs = await this.#lostLeader(url, deadlineMs, backoffMs, lastRefusal);
        continue;
      }
      const text = await response.text();
      const body = errorField(text);
      if (response.status === 421 && typeof body.leader === "string" && hops < redirectHopsMax) {
        hops++;
        this.#learn(body.leader);
        this.#leader = trimSlash(body.leader);
        continue;
      }
      if (response.status === 421 || (response.status === 503 && body.error === "no_leader")) {
        hops = 0;
        lastRefusal = `${url} answered ${response.status} ${String(body.error)}`;
        backoffMs = await this.#lostLeader(url, deadlineMs, backoffMs, lastRefusal);
        continue;
      }
      return { status: response.status, text, url };
    }
  }

  /**
   * Polls every known node's /status until one leads (bounded by `deadlineMs` and the client's
   * leaderWaitMs); returns its URL and writes go there from now on.
   */
  findLeader(deadlineMs = performance.now() + this.#leaderWaitMs): Promise<string> {
    this.#search ??= this.#poll(deadlineMs).finally(() => {
      this.#search = null;
    });
    return this.#search;
  }

  /** After `staleUrl` failed: find the leader, and wait before trying one that just failed again. */
  async #lostLeader(staleUrl: string, deadlineMs: number, backoffMs: number, reason: string): Promise<number> {
    if (performance.now() >= deadlineMs) throw this.#noLeader(reason);
    // Another client may have found the new leader meanwhile.
    const found = this.#leader !== staleUrl ? this.#leader : await this.findLeader(deadlineMs);
    if (found !== staleUrl) return backoffFirstMs;
    await Bun.sleep(Math.min(backoffMs, Math.max(0, deadlineMs - performance.now())));
    return Math.min(backoffMs * 2, backoffMaxMs);
  }

  async #poll(deadlineMs: number): Promise<string> {
    let backoffMs = backoffFirstMs;
    let seen: StatusView[] = [];
    for (;;) {
      seen = await Promise.all(this.nodeUrls.map((url) => this.#status(url)));
      for (const view of seen) {
        for (const url of [...(view.peers ?? []), ...(view.followers ?? []).map((f) => f.url), view.leader ?? ""]) this.#learn(url);
      }
      // A deposed leader may not know it yet: the highest epoch wins (a fixed-role leader has none).
      const leaders = seen.filter((view) => view.role === "leader").sort((a, b) => (b.epoch ?? 0) - (a.epoch ?? 0));
      if (leaders[0]) {
        this.#leader = leaders[0].url;
        return this.#leader;
      }
      const leftMs = deadlineMs - performance.now();
      if (leftMs <= 0) {
        const states = seen.map((view) => `${view.url} ${view.role ?? "unreachable"}`).join(", ");
        throw this.#noLeader(`no node leads (${states})`);
      }
      await Bun.sleep(Math.min(backoffMs, leftMs));
      backoffMs = Math.min(backoffMs * 2, backoffMaxMs);
    }
  }

  async #status(url: string): Promise<StatusView> {
    try {
      const response = await fetch(`${url}/status`, { signal: AbortSignal.timeout(statusTimeoutMs) });
      const body = (await response.json()) as Omit<StatusView, "url">;
      return response.ok && body && typeof body === "object" ? { ...body, url } : { url };
    } catch {
      return { url };
    }
  }

  #learn(url: unknown): void {
    if (typeof url === "string" && isBaseUrl(url)) this.#nodes.add(trimSlash(url));
  }

  #noLeader(reason: string): NoLeaderError {
    return new NoLeaderError(
      `no leader took the write within ${this.#leaderWaitMs} ms (leader wait bound); last: ${reason}; nodes tried: ${this.nodeUrls.join(", ")}`,
    );
  }
}
