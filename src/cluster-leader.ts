import type { ClusterNode } from "./cluster.ts";

/**
 * The node that says it leads (GET /status role "leader"), polled until one does and every other
 * running node names it as its leader, or `timeoutMs` passes.
 */
export async function waitForLeader(nodes: readonly ClusterNode[], timeoutMs: number): Promise<ClusterNode> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const leader = await leaderOf(nodes);
    if (leader && (await followedBy(nodes, leader))) return leader;
    await Bun.sleep(20);
  }
  throw new Error(`no node led, followed by every other, within ${timeoutMs} ms`);
}

async function followedBy(nodes: readonly ClusterNode[], leader: ClusterNode): Promise<boolean> {
  const leaders = await Promise.all(
    nodes.map(async (node) => {
      if (node === leader || !node.running) return leader.url;
      try {
        const response = await fetch(`${node.url}/status`, { signal: AbortSignal.timeout(500) });
        return ((await response.json()) as { leader?: string | null }).leader;
      } catch {
        return null;
      }
    }),
  );
  return leaders.every((url) => url === leader.url);
}

/** The running node that says it leads now, or null; of two that say so, the one of the higher epoch (the other was deposed and does not know it yet). */
export async function leaderOf(nodes: readonly ClusterNode[]): Promise<ClusterNode | null> {
  const leaders = await Promise.all(
    nodes.map(async (node) => {
      if (!node.running) return null;
      try {
        const response = await fetch(`${node.url}/status`, { signal: AbortSignal.timeout(500) });
        const status = (await response.json()) as { role?: string; epoch?: number };
        return status.role === "leader" ? { node, epoch: status.epoch ?? 0 } : null;
      } catch {
        return null;
      }
    }),
  );
  const newest = leaders.reduce((best, leader) => (leader && (!best || leader.epoch > best.epoch) ? leader : best), null);
  return newest?.node ?? null;
}
