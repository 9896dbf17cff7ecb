import { mkdirSync, writeFileSync } from "node:fs";
import type { DelayQuartiles } from "../src/node/delay-scheduler.ts";
import { join, relative } from "node:path";
import { type ConsistencyReport, checkConsistency } from "./lib/consistency.ts";
import { FlagError, parseToolFlags } from "../src/flags.ts";
import { K6Error, findK6, runK6Writes } from "./lib/k6-driver.ts";
import type { LatencyStatsMs, PercentilePoint } from "./lib/latency.ts";
import { toolStorageChoices, withLocalCluster } from "./lib/local-cluster.ts";
import { progressBar } from "./lib/progress.ts";
import { type Target, TargetError, fetchLeaderStatus, findTarget, putAdminConfig } from "./lib/target.ts";
import { type LoadSummary, runClosedLoad } from "./load.ts";
import { renderSweepCharts, sweepOutDirDefault } from "./plot.ts";
import { type OrderedLogBound, type UnorderedBound, orderedLogBound, unorderedBound } from "./theory.ts";

/**
 * The quorum sweep: for each write quorum (set at run time with PUT /admin/config, no restarts)
 * the lab's workload, then a digest comparison of every node; results beside both reference
 * curves of docs/design.md §6, as JSON, a markdown table and a four-panel chart.
 */

export interface SweepResult {
  quorum: number;
  writes: number;
  succeeded: number;
  seconds: number;
  throughput: number;
  successRate: number;
  latencyMs: LatencyStatsMs;
  errors: Record<string, number>;
  /** Unordered bound (a lone write); null for quorum 0, which waits for nobody. */
  theory: UnorderedBound | null;
  /** Ordered-log bound (zero-cost replication under this workload); null for quorum 0. */
  bound: OrderedLogBound | null;
  /** The digests matched after this quorum's writes. */
  consistent: boolean;
  /** The delays the leader actually applied to its last (up to 4096) messages, from /status. */
  measuredDelayMs: DelayQuartiles | null;
  distribution: PercentilePoint[];
}

export interface SweepReport {
  generatedAt: string;
  driver: "bun" | "k6";
  workload: {
    writes: number;
    concurrency: number;
    keys: number;
    minDelayMs: number;
    maxDelayMs: number;
    followers: number;
    /** The leader's replication transport, as its /status says (absent in reports made before TRANSPORT existed). */
    transport?: string;
    /** The leader's storage as its /status says: memory, or DATA_DIR's SYNC (absent in reports made before DATA_DIR existed). */
    storage?: string;
    leaderUrl: string;
    localCluster: boolean;
  };
  results: SweepResult[];
  /** Every per-quorum check combined; `nodes` are from the last one. */
  consistency: ConsistencyReport;
}

const usage = `Usage: bun run sweep [flags]

For each write quorum: PUT /admin/config {writeQuorum}, the lab's workload (10,000 writes,
20 clients, 100 keys), then every node's digest compared once replication caught up. Writes
quorum-sweep.{json,md,svg,png} to --out-dir: .quorumkv/results/ unless told otherwise (the
committed figures are redrawn with --out-dir results). Starts its own cluster on free ports
unless --leader is given (e.g. --leader http://127.0.0.1:5001 for npm start or docker compose).`;

const flags = {
  quorums: { type: "string", default: "1,2,3,4,5", help: "comma-separated write quorums" },
  writes: { type: "number", default: 10_000, integer: true, min: 1, help: "writes per quorum" },
  concurrency: { type: "number", default: 20, integer: true, min: 1, help: "concurrent clients" },
  keys: { type: "number", default: 100, integer: true, min: 1, help: "distinct keys" },
  warmupWrites: { type: "number", default: 1000, integer: true, min: 0, help: "unrecorded writes first, so quorum 1 does not pay for JIT warm-up" },
  driver: { type: "string", default: "bun", choices: ["bun", "k6"], help: "load generator; k6 needs k6 on PATH" },
  leader: { type: "string", help: "use this running cluster instead of a local one (env LEADER_URL is not read: a sweep starts its own by default)" },
  peers: { type: "string", help: "with --leader: comma-separated node URLs to ask for the leader if it changes (default: .quorumkv/cluster.json's)" },
  token: { type: "string", help: "with --leader: cluster token (env CLUSTER_TOKEN, else .quorumkv/cluster.json)" },
  followerUrls: { type: "string", help: "with --leader: follower URLs for the digest check, if those in /status are not reachable from here" },
  followers: { type: "number", default: 5, integer: true, min: 1, help: "local cluster: followers" },
  minDelayMs: { type: "number", default: 0.1, min: 0, help: "local cluster: MIN_DELAY_MS" },
  transport: { type: "string", default: "websocket", choices: ["websocket", "http"], help: "local cluster: TRANSPORT, how the leader replicates" },
  maxDelayMs: { type: "number", default: 10, min: 0, help: "local cluster: MAX_DELAY_MS" },
  consistencyWaitMs: { type: "number", default: 10_000, min: 0, help: "bound on waiting for the nodes to converge" },
  sync: {
    type: "string",
    default: "memory",
    choices: toolStorageChoices,
    help: "local cluster: the nodes' storage, memory or DATA_DIR with SYNC=fsync|write|none",
  },
  outDir: { type: "string", default: sweepOutDirDefault, help: "where the four files go (results: the committed figures)" },
  seed: { type: "number", default: 1, integer: true, help: "seed of the ordered-log Monte Carlo" },
} as const;

type SweepOptions = ReturnType<typeof parseSweepFlags>;

function parseSweepFlags() {
  const options = parseToolFlags("sweep", usage, flags);
  const quorums = options.quorums
    .split(",")
    .filter((text) => text.trim() !== "")
    .map(Number);
  if (quorums.length === 0 || quorums.some((q) => !Number.isInteger(q) || q < 0)) {
    throw new FlagError(`--quorums must be whole numbers like 1,2,3, got "${options.quorums}"`);
  }
  return { ...options, quorumList: quorums };
}

async function sweep(options: SweepOptions, target: Target, localCluster: boolean): Promise<SweepReport> {
  const token = target.token;
  if (!token) throw new TargetError("the sweep needs the cluster token for /admin/config: pass --token or set CLUSTER_TOKEN");
  const followers = target.status.followers.length;
  const { minDelayMs, maxDelayMs } = target.status.delay;
  const delay = { minDelayMs, maxDelayMs };
  const tooHigh = options.quorumList.filter((q) => q > followers);
  if (tooHigh.length > 0) throw new FlagError(`quorum ${tooHigh.join(",")} exceeds the ${followers} followers`);
  const workload = { leaderUrl: target.leaderUrl, writes: options.writes, concurrency: options.concurrency, keys: options.keys };
  const drive = (writes: number, label: string): Promise<LoadSummary> => {
    if (options.driver === "k6") return runK6Writes({ ...workload, nodeUrls: target.nodeUrls, writes });
    const bar = progressBar(writes, label);
    return runClosedLoad({ ...workload, nodeUrls: target.nodeUrls, writes, onProgress: bar.set }).finally(bar.finish);
  };
  const originalQuorum = target.status.writeQuorum;
  if (options.warmupWrites > 0) await drive(options.warmupWrites, "warm-up");
  const results: SweepResult[] = [];
  let last: ConsistencyReport | undefined;
  try {
    for (const quorum of options.quorumList) {
      await putAdminConfig(target.leaderUrl, token, { writeQuorum: quorum });
      const summary = await drive(options.writes, `quorum ${quorum}`);
      const measuredDelayMs = (await fetchLeaderStatus(target.leaderUrl)).delay.measured ?? null;
      last = await checkConsistency({ leaderUrl: target.leaderUrl, followerUrls: target.followerUrls, token, waitMs: options.consistencyWaitMs });
      const hasBound = quorum >= 1;
      results.push({
        quorum,
        writes: summary.writes,
        succeeded: summary.succeeded,
        seconds: summary.seconds,
        throughput: summary.throughput,
        successRate: summary.successRate,
        latencyMs: summary.latencyMs,
        errors: summary.errors,
        theory: hasBound ? roundValues(unorderedBound(quorum, followers, delay)) : null,
        bound: hasBound ? roundValues(orderedLogBound({ quorum, followers, concurrency: options.concurrency, delay, seed: options.seed })) : null,
        consistent: last.consistent,
        measuredDelayMs,
        distribution: summary.distribution,
      });
      const l = summary.latencyMs;
      console.error(
        `quorum ${quorum}: ${summary.throughput.toFixed(0)} writes/s, p50 ${l.p50.toFixed(2)} ms, p95 ${l.p95.toFixed(2)} ms, ` +
          `${summary.succeeded}/${summary.writes} ok, ${last.consistent ? "consistent" : "NOT CONSISTENT"}`,
      );
    }
  } finally {
    // A shared cluster gets its quorum back; a local one is about to stop anyway.
    if (!localCluster) await putAdminConfig(target.leaderUrl, token, { writeQuorum: originalQuorum }).catch(() => {});
  }
  return {
    generatedAt: new Date().toISOString(),
    driver: options.driver,
    workload: {
      ...workload,
      ...delay,
      followers,
      transport: target.status.transport ?? "websocket",
      storage: target.status.storage?.sync ?? "memory",
      localCluster,
    },
    results,
    consistency: { ...last!, consistent: results.every((r) => r.consistent) },
  };
}

/** Bounds to 0.001: more digits than that would be noise from the Monte Carlo anyway. */
function roundValues<T extends object>(values: T): T {
  return Object.fromEntries(Object.entries(values).map(([name, value]) => [name, Number((value as number).toFixed(3))])) as T;
}

const fixed = (value: number | undefined, digits: number) => (value === undefined ? "–" : value.toFixed(digits));

export function markdownTable(report: SweepReport): string {
  const w = report.workload;
  const header = [
    `Quorum sweep: ${w.writes} writes, ${w.concurrency} clients, ${w.keys} keys, ${w.followers} followers, ` +
      `delay U(${w.minDelayMs}, ${w.maxDelayMs}) ms, transport ${w.transport ?? "websocket"}, storage ${w.storage ?? "memory"}, driver ${report.driver}${w.localCluster ? ", local cluster" : ""}. Latencies in ms.`,
    "",
    "| quorum | success % | writes/s | p50 | mean | p95 | p99 | unordered median | ordered-log median | ordered-log writes/s |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const rows = report.results.map((r) =>
    [
      r.quorum,
      (r.successRate * 100).toFixed(2),
      r.throughput.toFixed(0),
      fixed(r.latencyMs.p50, 2),
      fixed(r.latencyMs.mean, 2),
      fixed(r.latencyMs.p95, 2),
      fixed(r.latencyMs.p99, 2),
      fixed(r.theory?.medianMs, 2),
      fixed(r.bound?.medianMs, 2),
      fixed(r.bound?.throughput, 0),
    ].join(" | "),
  );
  const measured = report.results
    .filter((r) => r.measuredDelayMs)
    .map((r) => {
      const d = r.measuredDelayMs!;
      return `q${r.quorum} mean ${d.meanMs.toFixed(2)}, quartiles ${d.p25Ms.toFixed(2)} / ${d.p50Ms.toFixed(2)} / ${d.p75Ms.toFixed(2)}`;
    });
  const expected = (q: number) => w.minDelayMs + (w.maxDelayMs - w.minDelayMs) * q;
  const delayLine =
    measured.length > 0
      ? `Delays applied (ms; model mean ${expected(0.5).toFixed(2)}, quartiles ${expected(0.25).toFixed(2)} / ${expected(0.5).toFixed(2)} / ${expected(0.75).toFixed(2)}): ${measured.join("; ")}.`
      : "";
  const c = report.consistency;
  const footer = `Consistency: ${c.consistent ? "every node's digest matched the leader's after every quorum" : "MISMATCH (see consistency.nodes in the JSON)"}.`;
  return [...header, ...rows.map((row) => `| ${row} |`), "", ...(delayLine ? [delayLine, ""] : []), footer, ""].join("\n");
}

async function writeReport(report: SweepReport, outDir: string): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  const base = join(outDir, "quorum-sweep");
  const { svg, png } = await renderSweepCharts(report);
  const files: [string, string | Uint8Array][] = [
    [`${base}.json`, `${JSON.stringify(report, null, 2)}\n`],
    [`${base}.md`, markdownTable(report)],
    [`${base}.svg`, svg],
    [`${base}.png`, png],
  ];
  for (const [path, content] of files) writeFileSync(path, content);
  return files.map(([path]) => relative(process.cwd(), path));
}

async function main(): Promise<void> {
  const options = parseSweepFlags();
  if (options.driver === "k6") findK6(); // fail before starting anything
  const report = options.leader
    ? await sweep(
        options,
        await findTarget({
          leader: options.leader,
          token: options.token,
          followerUrls: options.followerUrls?.split(",").map((u) => u.trim()),
          peers: options.peers,
        }),
        false,
      )
    : await withLocalCluster(
        { followers: options.followers, minDelayMs: options.minDelayMs, maxDelayMs: options.maxDelayMs, writeQuorum: 1, env: { TRANSPORT: options.transport } },
        async (cluster) => sweep(options, await findTarget({ leader: cluster.leader.url, token: cluster.token }), true),
        options.sync,
      );
  const files = await writeReport(report, options.outDir);
  console.log(markdownTable(report));
  console.log(`wrote ${files.join(", ")}`);
  if (!report.consistency.consistent) process.exitCode = 1;
}

if (import.meta.main) {
  await main().catch((error: Error) => {
    console.error(`sweep: ${error.message}`);
    process.exit(error instanceof FlagError || error instanceof TargetError || error instanceof K6Error ? 2 : 1);
  });
}
