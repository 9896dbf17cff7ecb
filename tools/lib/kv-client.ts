import { clusterFile } from "../../src/cluster.ts";
import { IndeterminateError, LeaderClient } from "./leader-client.ts";
import { defaultLeaderUrl, TargetError } from "./target.ts";
import { isBaseUrl, readSavedCluster, savedNodeUrls, trimSlash } from "./urls.ts";

/** A request's bound: a node that does not answer by then is treated as unreachable. */
const requestTimeoutMs = 10_000;

/**
 * The nodes the kv CLI talks to: --endpoints (comma-separated), else LEADER_URL, else the nodes
 * (or the leader and followers) `npm start` wrote to .quorumkv/cluster.json, else http://127.0.0.1:5001.
 */
export function resolveEndpoints(flag: string | undefined, env: Record<string, string | undefined> = process.env, path = clusterFile): string[] {
  let endpoints: string[] = [];
  if (flag) endpoints = flag.split(",").filter(Boolean);
  else if (env.LEADER_URL) endpoints = [env.LEADER_URL];
  else {
    const saved = readSavedCluster(path);
    if (saved === null) throw new TargetError(`${path} is not valid JSON; pass --endpoints`);
    if (saved) endpoints = savedNodeUrls(saved);
  }
  if (endpoints.length === 0) endpoints = [defaultLeaderUrl];
  for (const url of endpoints) if (!isBaseUrl(url)) throw new TargetError(`endpoint must look like http://host:port, got "${url}"`);
  return endpoints.map(trimSlash);
}

export interface KvAnswer {
  status: number;
  body: Record<string, any>;
  /** The node that answered. */
  url: string;
}

/**
 * Talks to a cluster: reads go to the first endpoint that answers; writes to the leader
 * (tools/lib/leader-client.ts: 421 `{leader}` is followed, an election or a dead leader waited
 * out, bounded). An endpoint that does not answer is skipped; none answering, or no leader within
 * the bound, is a TargetError (the CLI's exit 2).
 */
export class KvClient {
  readonly #leaderClient: LeaderClient;

  constructor(readonly endpoints: readonly string[]) {
    this.#leaderClient = new LeaderClient({ leaderUrl: endpoints[0] ?? defaultLeaderUrl, nodeUrls: endpoints, requestTimeoutMs });
  }

  read(path: string): Promise<KvAnswer> {
    return this.#first(path, {});
  }

  /** A write (or anything the leader alone serves), on the leader wherever it is. */
  async write(path: string, init: RequestInit): Promise<KvAnswer> {
    try {
      const answer = await this.#leaderClient.send(path, init);
      return { status: answer.status, body: parseBody(answer.status, answer.text), url: answer.url };
    } catch (error) {
      if (error instanceof IndeterminateError) throw new TargetError(error.message);
      throw error;
    }
  }

  /** The leader's URL, found through the endpoints' /status (waiting out an election, bounded). */
  leader(): Promise<string> {
    return this.#leaderClient.findLeader();
  }

  /** A streamed GET (watch) on the first endpoint that answers; the caller reads the body. */
  async stream(path: string, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
    const errors: string[] = [];
    for (const url of this.endpoints) {
      try {
        return await fetch(`${url}${path}`, { headers, signal });
      } catch (error) {
        if (signal.aborted) throw error;
        errors.push(`${url}: ${(error as Error).message}`);
      }
    }
    throw new TargetError(`no endpoint answers (${errors.join("; ")}); start a cluster with \`npm start\` or pass --endpoints`);
  }

  async #first(path: string, init: RequestInit): Promise<KvAnswer> {
    const errors: string[] = [];
    for (const url of this.endpoints) {
      try {
        return await this.#call(url, path, init);
      } catch (error) {
        errors.push(`${url}: ${(error as Error).message}`);
      }
    }
    throw new TargetError(`no endpoint answers (${errors.join("; ")}); start a cluster with \`npm start\` or pass --endpoints`);
  }

  async #call(url: string, path: string, init: RequestInit): Promise<KvAnswer> {
    const response = await fetch(`${url}${path}`, { ...init, signal: AbortSignal.timeout(requestTimeoutMs) });
    return { status: response.status, body: parseBody(response.status, await response.text()), url };
  }
}

function parseBody(status: number, text: string): Record<string, any> {
  try {
    return text ? (JSON.parse(text) as Record<string, any>) : {};
  } catch {
    throw new TargetError(`answered ${status} with a body that is not JSON`);
  }
}
