import { clusterFile } from "../../src/cluster.ts";
import type { DelayQuartiles } from "../../src/node/delay-scheduler.ts";
import { LeaderClient } from "./leader-client.ts";
import { TargetError } from "./target-error.ts";
import { isBaseUrl, readSavedCluster, savedNodeUrls, trimSlash } from "./urls.ts";

/**
 * How a tool finds the cluster it talks to (docs/design.md §7): --leader URL, else LEADER_URL, else
 * http://127.0.0.1:5001; --token T, else CLUSTER_TOKEN, else the token `npm start` wrote to
 * .quorumkv/cluster.json; the followers from the leader's /status. The URL given need not be the
 * leader's: the tools follow a follower's answer, and wait out an election (tools/lib/leader-client.ts).
 */

export { TargetError };
export const defaultLeaderUrl = "http://127.0.0.1:5001";
const statusTimeoutMs = 3000;

export interface FollowerStatus {
  id: string;
  url: string;
  matchOffset: number;
  lag: number;
  healthy: boolean;
}

/** The leader's GET /status, the fields the tools use. */
export interface LeaderStatus {
  id: string;
  role: "leader";
  lastOffset: number;
  commitOffset: number;
  writeQuorum: number;
  delay: { minDelayMs: number; maxDelayMs: number; measured?: DelayQuartiles | null };
  /** How the leader replicates (`TRANSPORT`): websocket or http. */
  transport?: string;
  /** Where it stores its log: `sync` is memory, or DATA_DIR's SYNC (fsync, write, none). */
  storage?: { sync: string };
  followers: FollowerStatus[];
}

export interface Target {
  leaderUrl: string;
  /** Every node known: the ones given, cluster.json's, and those the nodes' /status name. */
  nodeUrls: string[];
  /** Undefined when no token was found; only /internal and /admin need one. */
  token: string | undefined;
  followerUrls: string[];
  status: LeaderStatus;
}

export function resolveLeaderUrl(flag: string | undefined, env: Record<string, string | undefined> = process.env): string {
  const url = trimSlash(flag || env.LEADER_URL || defaultLeaderUrl);
  if (!isBaseUrl(url)) throw new TargetError(`leader URL must look like http://host:port, got "${url}"`);
  return url;
}

export function resolveToken(
  flag: string | undefined,
  env: Record<string, string | undefined> = process.env,
  clusterFilePath = clusterFile,
): string | undefined {
  if (flag) return flag;
  if (env.CLUSTER_TOKEN) return env.CLUSTER_TOKEN;
  const saved = readSavedCluster(clusterFilePath);
  if (saved === null) throw new TargetError(`${clusterFilePath} is not valid JSON; pass --token or set CLUSTER_TOKEN`);
  return typeof saved?.token === "string" ? saved.token : undefined;
}

export async function fetchLeaderStatus(leaderUrl: string): Promise<LeaderStatus> {
  let response: Response;
  try {
    response = await fetch(`${leaderUrl}/status`, { signal: AbortSignal.timeout(statusTimeoutMs) });
  } catch (error) {
    throw new TargetError(`no cluster answers at ${leaderUrl} (${(error as Error).message}); start one with \`npm start\` or pass --leader URL`);
  }
  const status = (await response.json().catch(() => null)) as (LeaderStatus & { role: string; leader?: string }) | null;
  if (!response.ok || !status) throw new TargetError(`${leaderUrl}/status answered ${response.status}, not a quorumkv node`);
  if (status.role !== "leader") {
    throw new TargetError(`${leaderUrl} is a ${status.role}, not the leader${status.leader ? `; the leader is ${status.leader}` : ""}`);
  }
  return status;
}

/**
 * The nodes a tool may ask for the leader besides `leaderUrl`: --peers, and the `nodes` (or the
 * leader and followers) `npm start` wrote to cluster.json when `leaderUrl` is one of them, so
 * that the file of another cluster is never mixed in.
 */
export function resolveNodeUrls(leaderUrl: string, peersFlag: string | undefined, clusterFilePath = clusterFile): string[] {
  const peers = (peersFlag ?? "")
    .split(",")
    .map((url) => trimSlash(url.trim()))
    .filter(Boolean);
  for (const url of peers) if (!isBaseUrl(url)) throw new TargetError(`--peers must be URLs like http://host:port, got "${url}"`);
  // A corrupt file names no nodes; resolveToken reports it when the token is needed.
  const listed = savedNodeUrls(readSavedCluster(clusterFilePath) ?? {});
  return [...new Set([leaderUrl, ...peers, ...(listed.includes(leaderUrl) ? listed : [])])];
}

/**
 * Finds the leader and its followers, starting from `leader` (any node will do). When nothing
 * answers at all that is an error at once; when nodes answer but none leads (an election), the
 * wait is bounded by `leaderWaitMs`. `followerUrls` overrides the URLs the leader reports, for
 * when those are not reachable from here (e.g. container names under docker compose).
 */
export async function findTarget(
  options: { leader?: string; token?: string; followerUrls?: string[]; peers?: string; leaderWaitMs?: number } = {},
): Promise<Target> {
  const startUrl = resolveLeaderUrl(options.leader);
  const client = new LeaderClient({ leaderUrl: startUrl, nodeUrls: resolveNodeUrls(startUrl, options.peers), leaderWaitMs: options.leaderWaitMs });
  const answering = await Promise.all(
    client.nodeUrls.map((url) =>
      fetch(`${url}/status`, { signal: AbortSignal.timeout(statusTimeoutMs) }).then(
        () => true,
        (error: Error) => error.message,
      ),
    ),
  );
  if (!answering.includes(true)) {
    throw new TargetError(`no cluster answers at ${startUrl} (${answering[0]}); start one with \`npm start\` or pass --leader URL`);
  }
  const leaderUrl = await client.findLeader();
  const status = await fetchLeaderStatus(leaderUrl);
  const followerUrls = options.followerUrls?.length ? options.followerUrls.map(trimSlash) : status.followers.map((f) => f.url);
  return { leaderUrl, nodeUrls: client.nodeUrls, token: resolveToken(options.token), followerUrls, status };
}

/** A fetch with the cluster token, for /internal/* and /admin/*. */
export function authorizedFetch(token: string, url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${token}`);
  return fetch(url, { ...init, headers });
}

/** PUT /admin/config on the leader: the sweep changes the quorum this way, without restarts. */
export async function putAdminConfig(
  leaderUrl: string,
  token: string,
  change: { writeQuorum?: number; minDelayMs?: number; maxDelayMs?: number },
): Promise<{ writeQuorum: number; minDelayMs: number; maxDelayMs: number }> {
  const response = await authorizedFetch(token, `${leaderUrl}/admin/config`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(change),
    signal: AbortSignal.timeout(statusTimeoutMs),
  });
  const body = (await response.json().catch(() => null)) as Record<string, unknown> | null;
  if (response.status === 401) throw new TargetError(`${leaderUrl} refused the cluster token (401); pass --token or set CLUSTER_TOKEN`);
  if (!response.ok) throw new TargetError(`PUT ${leaderUrl}/admin/config answered ${response.status} ${JSON.stringify(body)}`);
  return body as { writeQuorum: number; minDelayMs: number; maxDelayMs: number };
}
