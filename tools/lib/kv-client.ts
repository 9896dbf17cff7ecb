import { existsSync, readFileSync } from "node:fs";
import { clusterFile } from "../../src/cluster.ts";
import { defaultLeaderUrl, TargetError } from "./target.ts";

/** A request's bound: a node that does not answer by then is treated as unreachable. */
const requestTimeoutMs = 10_000;

const trimSlash = (url: string) => url.replace(/\/+$/, "");

/**
 * The nodes the kv CLI talks to: --endpoints (comma-separated), else LEADER_URL, else the leader
 * and followers `npm start` wrote to .quorumkv/cluster.json, else http://127.0.0.1:5001.
 */
export function resolveEndpoints(flag: string | undefined, env: Record<string, string | undefined> = process.env, path = clusterFile): string[] {
  let endpoints: string[] = [];
  if (flag) endpoints = flag.split(",").filter(Boolean);
  else if (env.LEADER_URL) endpoints = [env.LEADER_URL];
  else if (existsSync(path)) {
    try {
      const saved = JSON.parse(readFileSync(path, "utf8")) as { leader?: unknown; followers?: unknown };
      if (typeof saved.leader === "string") endpoints.push(saved.leader);
      if (Array.isArray(saved.followers)) endpoints.push(...saved.followers.filter((url): url is string => typeof url === "string"));
    } catch {
      throw new TargetError(`${path} is not valid JSON; pass --endpoints`);
    }
  }
  if (endpoints.length === 0) endpoints = [defaultLeaderUrl];
  for (const url of endpoints) if (!/^https?:\/\/[^/]+/.test(url)) throw new TargetError(`endpoint must look like http://host:port, got "${url}"`);
  return endpoints.map(trimSlash);
}

export interface KvAnswer {
  status: number;
  body: Record<string, any>;
  /** The node that answered. */
  url: string;
}

/**
 * Talks to a cluster: reads go to the first endpoint that answers; writes to the leader, found by
 * following 421 `{leader}` answers (a follower names its leader). An endpoint that does not
 * answer is skipped; none answering is a TargetError (the CLI's exit 2).
 */
export class KvClient {
  #leader: string | null = null;

  constructor(readonly endpoints: readonly string[]) {}

  read(path: string): Promise<KvAnswer> {
    return this.#first(path, {});
  }

  /** A write (or anything the leader alone serves): follows 421 to the leader named, once per hop. */
  async write(path: string, init: RequestInit): Promise<KvAnswer> {
    let answer = await this.#first(path, init, this.#leader);
    for (let hops = 0; answer.status === 421 && typeof answer.body.leader === "string" && hops < 3; hops++) {
      answer = await this.#call(trimSlash(answer.body.leader), path, init);
    }
    if (answer.status !== 421) this.#leader = answer.url;
    return answer;
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

  async #first(path: string, init: RequestInit, preferred: string | null = null): Promise<KvAnswer> {
    const errors: string[] = [];
    for (const url of preferred ? [preferred, ...this.endpoints.filter((e) => e !== preferred)] : this.endpoints) {
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
    const text = await response.text();
    let body: Record<string, any>;
    try {
      body = text ? (JSON.parse(text) as Record<string, any>) : {};
    } catch {
      throw new Error(`answered ${response.status} with a body that is not JSON`);
    }
    return { status: response.status, body, url };
  }
}
