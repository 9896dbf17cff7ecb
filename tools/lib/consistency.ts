import { authorizedFetch } from "./target.ts";

/**
 * Compares every node's GET /internal/digest (an order-independent hash of its whole state,
 * docs/design.md §5) once replication has caught up: the leader has committed its whole log and every
 * node has applied it. The wait is bounded; a cluster that does not converge is reported as such.
 */

export interface NodeDigest {
  url: string;
  id?: string;
  role?: string;
  lastOffset?: number;
  commitOffset?: number;
  appliedOffset?: number;
  keys?: number;
  digest?: string;
  /** Why this node could not be read. */
  error?: string;
}

export interface ConsistencyReport {
  consistent: boolean;
  /** Every node applied the leader's whole log within the wait. */
  converged: boolean;
  waitedMs: number;
  nodes: NodeDigest[];
}

const digestTimeoutMs = 2000;
const pollIntervalMs = 50;

export async function readDigest(url: string, token: string): Promise<NodeDigest> {
  try {
    const response = await authorizedFetch(token, `${url}/internal/digest`, { signal: AbortSignal.timeout(digestTimeoutMs) });
    const body = (await response.json().catch(() => null)) as Omit<NodeDigest, "url"> | null;
    if (response.status === 401) return { url, error: "401 unauthorized: wrong cluster token" };
    if (!response.ok || !body) return { url, error: `answered ${response.status}` };
    const { id, role, lastOffset, commitOffset, appliedOffset, keys, digest } = body;
    return { url, id, role, lastOffset, commitOffset, appliedOffset, keys, digest };
  } catch (error) {
    return { url, error: (error as Error).message };
  }
}

/** Caught up: the leader committed everything it holds and every node applied exactly that. */
export function hasConverged(leader: NodeDigest, nodes: NodeDigest[]): boolean {
  if (leader.error || leader.lastOffset === undefined || leader.commitOffset !== leader.lastOffset) return false;
  return nodes.every((node) => !node.error && node.appliedOffset === leader.lastOffset);
}

/** Same state everywhere: same applied offset, key count and digest as the leader. */
export function digestsAgree(leader: NodeDigest, nodes: NodeDigest[]): boolean {
  if (leader.error || leader.digest === undefined) return false;
  return nodes.every((node) => !node.error && node.digest === leader.digest && node.keys === leader.keys && node.appliedOffset === leader.appliedOffset);
}

export async function checkConsistency(options: {
  leaderUrl: string;
  followerUrls: readonly string[];
  token: string;
  waitMs?: number;
}): Promise<ConsistencyReport> {
  const waitMs = options.waitMs ?? 10_000;
  const startedMs = performance.now();
  const urls = [options.leaderUrl, ...options.followerUrls];
  for (;;) {
    const nodes = await Promise.all(urls.map((url) => readDigest(url, options.token)));
    const leader = nodes[0]!;
    const converged = hasConverged(leader, nodes);
    const waitedMs = Math.round(performance.now() - startedMs);
    if (converged || waitedMs >= waitMs) {
      return { consistent: converged && digestsAgree(leader, nodes), converged, waitedMs, nodes };
    }
    await Bun.sleep(pollIntervalMs);
  }
}
