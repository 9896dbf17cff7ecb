import type { Clock } from "./env.ts";
import type { FollowerNode } from "./follower-node.ts";
import type { WriteOutcome } from "./leader-env.ts";
import type { StorageStatus } from "./storage.ts";
import type { LeaderNode } from "./leader-node.ts";
import { Exposition, Histogram } from "./prometheus.ts";

/**
 * What the node reports as it runs, for metrics: only what cannot be read from its state at
 * scrape time. The node calls it on its hot path, so each call is a few increments.
 */
export interface NodeObserver {
  /** A client write was answered (refusals included), `seconds` after it arrived. */
  writeAnswered(outcome: WriteOutcome["kind"], seconds: number): void;
}

/** Told by a node among PEERS (src/node/peer-node.ts) of each election it stands in, and how it ends. */
export interface ElectionObserver {
  electionStarted(): void;
  electionEnded(won: boolean): void;
}

/** Write latency buckets, in seconds: 100 µs to 10 s, 1-2.5-5 steps. */
export const writeDurationBoundsSeconds = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** Buckets of the log's fdatasync durations, in seconds: 50 µs to 1 s. */
export const storageSyncDurationBoundsSeconds = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] as const;

/** Every outcome a write can have: a record, so that a new kind does not compile until it is listed here. */
const writeOutcomeKinds: Record<WriteOutcome["kind"], true> = { committed: true, timeout: true, deposed: true, overloaded: true, storage_unavailable: true };
const writeOutcomes = Object.keys(writeOutcomeKinds) as WriteOutcome["kind"][];

/** The counters and histograms of one node process; gauges are read from the node when scraped. */
export class NodeMetrics implements NodeObserver, ElectionObserver {
  readonly writeDurations = new Map<WriteOutcome["kind"], Histogram>(writeOutcomes.map((outcome) => [outcome, new Histogram(writeDurationBoundsSeconds)]));
  /** HTTP answers by "method route status" (route is the matched pattern, so the label set is bounded). */
  readonly httpRequests = new Map<string, number>();
  /** 503 overloaded answers by the bound that refused. */
  readonly boundHits = new Map<string, number>();
  readonly startedAtSeconds = Date.now() / 1000;
  /** Each fdatasync of the log (SYNC=fsync with DATA_DIR; see DiskStorageEnv.observeSync). */
  readonly storageSyncDurations = new Histogram(storageSyncDurationBoundsSeconds);
  /** Elections stood in and their ends, and whether one is under way; null for a node with a fixed role (no PEERS). */
  readonly elections: { started: number; won: number; lost: number; standing: boolean } | null;

  /** `clock` is the node's own: follower reply times are on it. `peers`: the node may stand for election. */
  constructor(
    readonly clock: Clock,
    options: { peers?: boolean } = {},
  ) {
    this.elections = options.peers ? { started: 0, won: 0, lost: 0, standing: false } : null;
  }

  electionStarted(): void {
    if (!this.elections) return;
    this.elections.started++;
    this.elections.standing = true;
  }

  electionEnded(won: boolean): void {
    if (!this.elections) return;
    if (won) this.elections.won++;
    else this.elections.lost++;
    this.elections.standing = false;
  }

  writeAnswered(outcome: WriteOutcome["kind"], seconds: number): void {
    this.writeDurations.get(outcome)!.observe(seconds);
  }

  httpAnswered(method: string, route: string, status: number): void {
    const key = `${method} ${route} ${status}`;
    this.httpRequests.set(key, (this.httpRequests.get(key) ?? 0) + 1);
  }

  storageSynced(seconds: number): void {
    this.storageSyncDurations.observe(seconds);
  }

  boundHit(bound: string): void {
    this.boundHits.set(bound, (this.boundHits.get(bound) ?? 0) + 1);
  }
}

const followerStates = ["streaming", "catching_up", "snapshot", "diverged"] as const;

/** The whole exposition of a node: its counters, and gauges computed from its state now. */
export function renderMetrics(node: LeaderNode | FollowerNode, metrics: NodeMetrics): string {
  const out = new Exposition();
  const deposed = node.role === "leader" && (node as LeaderNode).core.deposedBy !== null;
  const role = deposed ? "deposed" : metrics.elections?.standing ? "candidate" : node.role;
  out.family("quorumkv_role", "gauge", "1 for the role this node plays now (a deposed leader refuses reads and writes)", [{ labels: { role }, value: 1 }]);
  out.single("quorumkv_epoch", "gauge", "Epoch this node is in", node.epoch);
  const elections = metrics.elections;
  if (elections) {
    out.single(
      "quorumkv_elections_started_total",
      "counter",
      "Elections this node stood in (after a pre-vote it won, or told to by a step-down or promote)",
      elections.started,
    );
    out.family("quorumkv_elections_total", "counter", "Elections this node stood in that ended, by outcome: won (it led) or lost", [
      { labels: { outcome: "won" }, value: elections.won },
      { labels: { outcome: "lost" }, value: elections.lost },
    ]);
  }
  out.single("quorumkv_last_offset", "gauge", "Offset of the last log entry held", node.lastOffset);
  out.single("quorumkv_commit_offset", "gauge", "Highest offset known committed", node.commitOffset);
  out.single("quorumkv_applied_offset", "gauge", "Highest offset applied to the state", node.state.appliedOffset);
  out.single("quorumkv_keys", "gauge", "Keys in the state", node.state.size);
  if (node.role === "leader") leaderFamilies(out, node as LeaderNode, metrics);
  else followerFamilies(out, node as FollowerNode);
  storageFamilies(out, node.status().storage as StorageStatus, metrics.storageSyncDurations);
  out.family(
    "quorumkv_overloaded_total",
    "counter",
    "Requests refused with 503 overloaded, by the bound reached",
    [...metrics.boundHits].map(([bound, value]) => ({ labels: { bound }, value })),
  );
  out.family(
    "quorumkv_http_requests_total",
    "counter",
    "HTTP requests answered, by method, matched route and status",
    [...metrics.httpRequests].map(([key, value]) => {
      const [method, route, status] = key.split(" ") as [string, string, string];
      return { labels: { method, route, status }, value };
    }),
  );
  const cpu = process.cpuUsage();
  out.single("process_cpu_seconds_total", "counter", "User and system CPU time spent", (cpu.user + cpu.system) / 1e6);
  out.single("process_resident_memory_bytes", "gauge", "Resident memory size", process.memoryUsage.rss());
  out.single("process_start_time_seconds", "gauge", "Start time of the process since the Unix epoch", metrics.startedAtSeconds);
  return out.text();
}

/** With DATA_DIR only: a node in memory has no disk to report. */
function storageFamilies(out: Exposition, storage: StorageStatus, syncDurations: Histogram): void {
  if (storage.dir === null) return;
  out.single("quorumkv_storage_bytes", "gauge", "Bytes of the log, snapshot and epoch files in DATA_DIR", storage.bytes);
  if (storage.lastSyncMs !== null)
    out.single("quorumkv_storage_last_sync_seconds", "gauge", "Duration of the latest sync to disk (one per group of writes)", storage.lastSyncMs / 1000);
  if (storage.sync === "fsync")
    out.histogram("quorumkv_storage_sync_duration_seconds", "Duration of each fdatasync of the log (one per group of writes)", [
      { labels: {}, histogram: syncDurations },
    ]);
  out.single(
    "quorumkv_storage_unavailable",
    "gauge",
    "1 while the node cannot store (disk full, I/O error): writes answer 503 storage_unavailable",
    storage.unavailable === null ? 0 : 1,
  );
}

function leaderFamilies(out: Exposition, leader: LeaderNode, metrics: NodeMetrics): void {
  const core = leader.core;
  out.single("quorumkv_write_quorum", "gauge", "Follower acks a write needs (WRITE_QUORUM, as changed at run time)", core.writeQuorum);
  out.single("quorumkv_uncommitted_entries", "gauge", "Log entries not yet committed (bounded by MAX_PENDING_WRITES)", core.uncommittedEntries);
  const writes = [...metrics.writeDurations];
  out.family(
    "quorumkv_writes_total",
    "counter",
    "Client writes answered, by outcome",
    writes.map(([outcome, h]) => ({ labels: { outcome }, value: h.count })),
  );
  out.histogram(
    "quorumkv_write_duration_seconds",
    "Time from a write's arrival at the leader to its answer, by outcome",
    writes.map(([outcome, histogram]) => ({ labels: { outcome }, histogram })),
  );
  const nowMs = metrics.clock.nowMs();
  const followers = core.followers.map((progress, index) => ({ progress, follower: leader.followerIds[index]! }));
  out.family(
    "quorumkv_follower_match_offset",
    "gauge",
    "Highest offset each follower acknowledged holding",
    followers.map(({ progress, follower }) => ({ labels: { follower }, value: progress.matchOffset })),
  );
  out.family(
    "quorumkv_follower_lag_entries",
    "gauge",
    "Entries the leader holds beyond each follower's match offset",
    followers.map(({ progress, follower }) => ({ labels: { follower }, value: leader.lastOffset - progress.matchOffset })),
  );
  out.family(
    "quorumkv_follower_healthy",
    "gauge",
    "1 if the follower answered lately",
    followers.map(({ progress, follower }) => ({ labels: { follower }, value: progress.healthy(nowMs) ? 1 : 0 })),
  );
  out.family(
    "quorumkv_follower_state",
    "gauge",
    "1 for each follower's replication state",
    followers.flatMap(({ progress, follower }) => {
      const current = progress.diverged ? "diverged" : progress.state === "streaming" ? "streaming" : progress.state === "probe" ? "catching_up" : "snapshot";
      return followerStates.map((state) => ({ labels: { follower, state }, value: state === current ? 1 : 0 }));
    }),
  );
  out.family(
    "quorumkv_follower_resyncs_total",
    "counter",
    "Follower resyncs: partial (re-sent from its own offset) or full (by snapshot)",
    followers.flatMap(({ progress, follower }) => [
      { labels: { follower, kind: "partial" }, value: progress.partialResyncs },
      { labels: { follower, kind: "full" }, value: progress.fullResyncs },
    ]),
  );
  out.family(
    "quorumkv_follower_messages_sent_total",
    "counter",
    "Messages and snapshot chunks sent to each follower (one carries a batch of entries, a heartbeat or a commit)",
    followers.map(({ progress, follower }) => ({ labels: { follower }, value: progress.sentCount })),
  );
  out.family(
    "quorumkv_follower_entries_sent_total",
    "counter",
    "Log entries sent to each follower; divided by the messages, the batch size",
    followers.map(({ progress, follower }) => ({ labels: { follower }, value: progress.entriesSent })),
  );
  out.family(
    "quorumkv_follower_last_ack_age_seconds",
    "gauge",
    "Time since each follower last answered (absent until it has)",
    followers
      .filter(({ progress }) => Number.isFinite(progress.lastReplyAtMs))
      .map(({ progress, follower }) => ({ labels: { follower }, value: (nowMs - progress.lastReplyAtMs) / 1000 })),
  );
}

function followerFamilies(out: Exposition, follower: FollowerNode): void {
  out.single("quorumkv_snapshots_installed_total", "counter", "Snapshots installed from a leader", follower.core.snapshotsInstalled);
  out.single(
    "quorumkv_diverged",
    "gauge",
    "1 while this follower holds writes the leader does not (refusing reads until repaired)",
    follower.core.diverged ? 1 : 0,
  );
}
