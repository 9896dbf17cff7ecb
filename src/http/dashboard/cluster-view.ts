import type { FollowerNode } from "../../node/follower-node.ts";
import type { LeaderNode } from "../../node/leader-node.ts";
import type { NodeMetrics } from "../../node/metrics.ts";

/**
 * The dashboard's view of the whole cluster, gathered by the node that serves the page: it asks
 * its peers for their `/dashboard/node.json` at the URLs the cluster itself uses. The browser
 * then talks to one origin only, so peers need no CORS headers, and the page works where only
 * one node's port is published (compose names the others `follower1:5000`, which a browser on the
 * host cannot reach). A peer that does not answer within `peerTimeoutMs` is shown as down.
 */

/** A peer's answer is awaited this long (a paused process never answers). */
export const peerTimeoutMs = 1000;
/** A view this recent is served again: many open pages cost the peers one poll per interval. */
export const viewMaxAgeMs = 250;
/** A peer's node.json larger than this is refused (a node with 10 followers writes ~3 KB). */
export const peerAnswerBytesMax = 256 * 1024;

/** What each node says of itself: its /status and, on the leader, the write counters. */
export interface NodeReport {
  status: Record<string, unknown>;
  writes: WriteCounts | null;
}

/** Cumulative counts since the leader started, for rates and percentiles between two polls. */
export interface WriteCounts {
  byOutcome: Record<string, number>;
  /** Committed writes' latency histogram: upper bounds in seconds and cumulative counts. */
  boundsSeconds: number[];
  cumulative: number[];
  committed: number;
}

export type Health = "healthy" | "unhealthy" | "down";

export interface NodeView {
  id: string | null;
  url: string | null;
  self: boolean;
  role: string;
  health: Health;
  /** Why it is not healthy. */
  problem: string | null;
  report: NodeReport | null;
}

export interface ClusterView {
  generatedAt: string;
  self: string;
  nodes: NodeView[];
}

export function nodeReport(node: LeaderNode | FollowerNode, metrics: NodeMetrics): NodeReport {
  if (node.role === "follower") return { status: node.status(), writes: null };
  const byOutcome: Record<string, number> = {};
  for (const [outcome, histogram] of metrics.writeDurations) byOutcome[outcome] = histogram.count;
  const committed = metrics.writeDurations.get("committed")!;
  let sum = 0;
  const cumulative = committed.counts.map((count) => (sum += count));
  return { status: node.status(), writes: { byOutcome, boundsSeconds: [...committed.bounds], cumulative, committed: committed.count } };
}

async function fetchReport(url: string): Promise<NodeReport | string> {
  try {
    const response = await fetch(`${url}/dashboard/node.json`, { signal: AbortSignal.timeout(peerTimeoutMs) });
    const text = await response.text();
    if (!response.ok) return `answered ${response.status}`;
    if (text.length > peerAnswerBytesMax) return `answer over ${peerAnswerBytesMax} bytes`;
    return JSON.parse(text) as NodeReport;
  } catch (error) {
    return error instanceof Error && error.name === "TimeoutError" ? `no answer within ${peerTimeoutMs} ms` : "unreachable";
  }
}

interface FollowerEntry {
  id?: string;
  url: string;
  healthy?: boolean;
  state?: string;
}

export class ClusterViewer {
  #last: { atMs: number; gathering: boolean; view: Promise<ClusterView> } | null = null;
  /** The followers a follower last learnt from its leader, kept for when the leader is down. */
  #knownFollowers: FollowerEntry[] = [];
  #knownLeaderId: string | null = null;

  constructor(
    readonly node: LeaderNode | FollowerNode,
    readonly metrics: NodeMetrics,
  ) {}

  /** One gathering at a time: a page that polls while peers are slow waits for the one under way. */
  view(): Promise<ClusterView> {
    const nowMs = performance.now();
    if (this.#last && (this.#last.gathering || nowMs - this.#last.atMs < viewMaxAgeMs)) return this.#last.view;
    const last = { atMs: nowMs, gathering: true, view: this.#gather() };
    const gathered = () => {
      last.gathering = false;
      last.atMs = performance.now();
    };
    last.view.then(gathered, gathered);
    this.#last = last;
    return last.view;
  }

  async #gather(): Promise<ClusterView> {
    const self = nodeReport(this.node, this.metrics);
    const selfId = this.node.config.nodeId;
    let leader: NodeView;
    if (this.node.role === "leader") {
      leader = this.#view(null, true, self);
    } else {
      const leaderUrl = this.node.config.leaderUrl;
      const answer = leaderUrl ? await fetchReport(leaderUrl) : "LEADER_URL is not set on this follower";
      if (typeof answer === "string") {
        leader = { ...this.#view(leaderUrl, false, null), id: this.#knownLeaderId, problem: answer, role: "leader" };
      } else {
        leader = this.#view(leaderUrl, false, answer);
        this.#knownLeaderId = leader.id;
        this.#knownFollowers = (answer.status.followers as FollowerEntry[] | undefined) ?? [];
      }
    }
    const entries = (leader.report?.status.followers as FollowerEntry[] | undefined) ?? this.#knownFollowers;
    const followers = await Promise.all(
      entries.map(async (entry) => {
        if (entry.id === selfId) return this.#follower(entry, leader, self, true);
        const answer = await fetchReport(entry.url);
        return typeof answer === "string" ? { ...this.#follower(entry, leader, null, false), problem: answer } : this.#follower(entry, leader, answer, false);
      }),
    );
    // A follower whose leader has not named it (the leader is down and never answered) still shows itself.
    if (this.node.role === "follower" && !followers.some((view) => view.self)) followers.push(this.#follower({ id: selfId, url: "" }, leader, self, true));
    return { generatedAt: new Date().toISOString(), self: selfId, nodes: [leader, ...followers] };
  }

  #view(url: string | null, self: boolean, report: NodeReport | null): NodeView {
    if (!report) return { id: null, url, self, role: "unknown", health: "down", problem: "unreachable", report: null };
    const role = String(report.status.role);
    const deposed = role === "deposed";
    return {
      id: String(report.status.id),
      url,
      self,
      role,
      health: deposed ? "unhealthy" : "healthy",
      problem: deposed ? `deposed by epoch ${report.status.deposedBy}` : null,
      report,
    };
  }

  /** A follower is healthy if it answers and its leader (when reachable) says it answers it too. */
  #follower(entry: FollowerEntry, leader: NodeView, report: NodeReport | null, self: boolean): NodeView {
    const view = this.#view(entry.url || null, self, report);
    view.id ??= entry.id ?? null;
    if (view.health === "down") return { ...view, role: "follower" };
    if (report?.status.diverged) return { ...view, health: "unhealthy", problem: "diverged: being repaired by snapshot" };
    if (leader.report && entry.healthy === false) return { ...view, health: "unhealthy", problem: `the leader hears nothing from it (${entry.state})` };
    return view;
  }
}
