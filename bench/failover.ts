import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { type Cluster, startCluster } from "../src/cluster.ts";
import { FlagError, parseToolFlags } from "../src/flags.ts";
import type { SyncMode } from "../src/node/storage.ts";
import { readDump } from "../tools/check.ts";
import { checkConsistency } from "../tools/lib/consistency.ts";
import { LeaderClient } from "../tools/lib/leader-client.ts";
import { TargetError } from "../tools/lib/target.ts";
import { type LoadSummary, runClosedLoad } from "../tools/load.ts";
import { sweepOutDirDefault } from "../tools/plot.ts";
import type { SweepReport } from "../tools/sweep.ts";
import { AckTracker, auditWrites, type WindowStats, windowStats } from "./failover-audit.ts";
import { renderFailoverChart } from "./failover-chart.ts";

/**
 * `bun run failover`: for each write quorum W, a fresh cluster of equal nodes (startCluster's
 * `peers`: every node has PEERS, DESIGN §9), each with its data on disk, under closed-loop load;
 * the leader is killed with SIGKILL again and again, and started again (same port, same data)
 * after --restart-delay-ms, as a supervisor would. Per kill: the
 * unavailability window, from the last write the old leader acknowledged to the first one a
 * new leader acknowledged, as the clients saw them. Afterwards every acknowledged write must be
 * in the final state (lostWrites must be 0) and every node must agree.
 */

export interface KillRecord {
  killed: string;
  newLeader: string;
  windowMs: number;
}

export interface FailoverResult {
  writeQuorum: number;
  /** Kills done (fewer than asked when `error` says why). */
  kills: number;
  windowMs: WindowStats;
  /** Acknowledged writes missing afterwards; null when no leader could be read to audit them. */
  lostWrites: number | null;
  failedWrites: number;
  indeterminate: number;
  acknowledged: number;
  failedWritesApplied: number;
  indeterminateApplied: number;
  lostExamples: string[];
  /** Every node's digest matched the leader's after the run. */
  consistent: boolean;
  throughput: number;
  errors: Record<string, number>;
  killsDone: KillRecord[];
  error?: string;
}

export interface FailoverReport {
  generatedAt: string;
  workload: {
    nodes: number;
    concurrency: number;
    killsPerQuorum: number;
    sync: SyncMode;
    restartDelayMs: number;
    steadyWrites: number;
    windowBoundMs: number;
    env: Record<string, string>;
  };
  results: FailoverResult[];
}

const usage = `Usage: bun run failover [flags]

For each write quorum W: starts --nodes equal nodes (PEERS) on free ports, each with its data in
a temporary folder, runs --concurrency closed-loop clients (every write its own key), and kills
the leader with SIGKILL --kills times, starting the killed node again after --restart-delay-ms.
Reports per W the unavailability window (last ack by the old leader → first ack by the new one),
the acknowledged writes missing afterwards (must be 0), the failed and the indeterminate writes.
Writes failover.{json,svg,png} to --out-dir, beside the median latency of --sweep if it exists.`;

const flags = {
  kills: { type: "number", default: 10, integer: true, min: 1, help: "leader kills per write quorum" },
  quorums: { type: "string", default: "1,2,3,4,5", help: "comma-separated write quorums" },
  nodes: { type: "number", default: 6, integer: true, min: 3, help: "nodes in the cluster" },
  concurrency: { type: "number", default: 20, integer: true, min: 1, help: "closed-loop clients" },
  sync: { type: "string", default: "write", choices: ["fsync", "write", "none"], help: "SYNC of every node (write survives kill -9)" },
  restartDelayMs: { type: "number", default: 1000, min: 0, help: "how long a killed node stays down" },
  steadyWrites: { type: "number", default: 200, integer: true, min: 1, help: "writes acknowledged between kills" },
  windowBoundMs: { type: "number", default: 30_000, min: 1, help: "bound on a new leader's first ack after a kill" },
  consistencyWaitMs: { type: "number", default: 30_000, min: 0, help: "bound on every node converging after the kills" },
  minDelayMs: { type: "number", min: 0, help: "MIN_DELAY_MS of every node (node default 0.1)" },
  maxDelayMs: { type: "number", min: 0, help: "MAX_DELAY_MS of every node (node default 10)" },
  electionTimeoutMs: { type: "number", integer: true, min: 1, help: "ELECTION_TIMEOUT_MS of every node (node default)" },
  outDir: { type: "string", default: sweepOutDirDefault, help: "where the files go (results: the committed figures)" },
  sweep: { type: "string", default: join("results", "quorum-sweep.json"), help: "quorum sweep whose latency the figure shows beside" },
} as const;

type Options = ReturnType<typeof parseOptions>;

function parseOptions(argv?: string[]) {
  const options = parseToolFlags("failover", usage, flags, argv);
  const quorumList = options.quorums
    .split(",")
    .filter((text) => text.trim() !== "")
    .map(Number);
  if (quorumList.length === 0 || quorumList.some((q) => !Number.isInteger(q) || q < 1 || q > options.nodes - 1)) {
    throw new FlagError(`--quorums must be whole numbers from 1 to ${options.nodes - 1} (--nodes − 1), got "${options.quorums}"`);
  }
  const env: Record<string, string> = {};
  if (options.minDelayMs !== undefined) env.MIN_DELAY_MS = String(options.minDelayMs);
  if (options.maxDelayMs !== undefined) env.MAX_DELAY_MS = String(options.maxDelayMs);
  if (options.electionTimeoutMs !== undefined) env.ELECTION_TIMEOUT_MS = String(options.electionTimeoutMs);
  return { ...options, sync: options.sync as SyncMode, quorumList, env };
}

const urlsOf = (cluster: Cluster) => cluster.nodes.map((node) => node.url);
const idOf = (cluster: Cluster, url: string | undefined) => cluster.nodes.find((node) => node.url === url)?.id ?? String(url);

/** Kills the leader `options.kills` times under load; returns the kills done, or throws why it stopped. */
async function killLeaders(cluster: Cluster, tracker: AckTracker, finder: LeaderClient, options: Options, kills: KillRecord[], w: number): Promise<void> {
  for (let k = 1; k <= options.kills; k++) {
    if (!(await tracker.moreAcks(options.steadyWrites, options.windowBoundMs))) {
      throw new Error(`fewer than ${options.steadyWrites} writes acknowledged within ${options.windowBoundMs} ms before kill ${k}`);
    }
    const leaderUrl = await finder.findLeader();
    const victim = cluster.nodes.find((node) => node.url === leaderUrl);
    if (!victim) throw new Error(`the leader ${leaderUrl} is not one of the cluster's nodes`);
    // Acks from the victim's URL count as the new leader's only once a new process runs there.
    let restartedAtMs = Number.POSITIVE_INFINITY;
    let lastOldAckAtMs: number | undefined;
    const killedAtMs = performance.now();
    const snapshotLastOldAck = () => (lastOldAckAtMs ??= tracker.lastAckAtMs(leaderUrl) ?? killedAtMs);
    const fromNewLeader = tracker.firstAck(
      (record) => record.answeredAtMs > killedAtMs && (record.url !== leaderUrl || record.answeredAtMs > restartedAtMs),
      options.windowBoundMs,
    );
    await victim.stop("SIGKILL");
    const restarted = Bun.sleep(options.restartDelayMs)
      .then(() => {
        snapshotLastOldAck();
        restartedAtMs = performance.now();
        return victim.start();
      })
      .then(
        () => null,
        (error: Error) => error,
      );
    const first = await fromNewLeader;
    snapshotLastOldAck();
    const restartError = await restarted;
    if (!first) throw new Error(`no write acknowledged by a new leader within ${options.windowBoundMs} ms (window bound) of killing ${victim.id}`);
    if (restartError) throw new Error(`restarting ${victim.id} failed: ${restartError.message}`);
    const kill = { killed: victim.id, newLeader: idOf(cluster, first.url), windowMs: Number((first.answeredAtMs - lastOldAckAtMs!).toFixed(1)) };
    kills.push(kill);
    console.error(`W=${w} kill ${k}/${options.kills}: ${kill.killed} killed, ${kill.newLeader} acknowledged after ${kill.windowMs.toFixed(1)} ms`);
  }
}

/** Every node converged and agrees with the leader; each write checked against the leader's state. */
async function auditCluster(cluster: Cluster, finder: LeaderClient, tracker: AckTracker, options: Options) {
  const leaderUrl = await finder.findLeader();
  const consistency = await checkConsistency({
    leaderUrl,
    followerUrls: urlsOf(cluster).filter((url) => url !== leaderUrl),
    token: cluster.token,
    waitMs: options.consistencyWaitMs,
  });
  // readDump's lines are "offset value": the value alone is compared.
  const dump = await readDump(leaderUrl, cluster.token);
  const stored = new Map([...dump].map(([key, line]) => [key, line.slice(line.indexOf(" ") + 1)]));
  return { consistent: consistency.consistent, audit: auditWrites(tracker.records, stored) };
}

async function runQuorum(w: number, options: Options): Promise<FailoverResult> {
  const dataDir = mkdtempSync(join(tmpdir(), "quorumkv-failover-"));
  const cluster = await startCluster({
    followers: options.nodes - 1,
    writeQuorum: w,
    peers: true,
    dataDir,
    env: { ...options.env, SYNC: options.sync },
    output: { logDir: join(dataDir, "logs") },
  }).catch((error: Error) => {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  });
  const tracker = new AckTracker();
  const finder = new LeaderClient({ leaderUrl: cluster.leader.url, nodeUrls: urlsOf(cluster), leaderWaitMs: options.windowBoundMs });
  const stop = new AbortController();
  const kills: KillRecord[] = [];
  let error: string | undefined;
  let summary: LoadSummary | undefined;
  try {
    const load = finder.findLeader().then((leaderUrl) =>
      runClosedLoad({
        leaderUrl,
        nodeUrls: urlsOf(cluster),
        writes: Number.MAX_SAFE_INTEGER,
        // Every write its own key, so that its presence afterwards is exact.
        keys: Number.MAX_SAFE_INTEGER,
        concurrency: options.concurrency,
        leaderWaitMs: options.windowBoundMs,
        requestTimeoutMs: options.windowBoundMs,
        onWrite: tracker.onWrite,
        stop: stop.signal,
      }),
    );
    try {
      await killLeaders(cluster, tracker, finder, options, kills, w);
    } catch (thrown) {
      error = (thrown as Error).message;
    } finally {
      stop.abort();
      summary = await load.catch((thrown: Error) => {
        error ??= thrown.message;
        return undefined;
      });
    }
    const audited = await auditCluster(cluster, finder, tracker, options).catch((thrown: Error) => {
      error = `${error ? `${error}; ` : ""}no audit: ${thrown.message}`;
      return null;
    });
    const { acknowledged, failedWrites, failedWritesApplied, indeterminate, indeterminateApplied } = auditWrites(tracker.records, new Map());
    return {
      writeQuorum: w,
      kills: kills.length,
      windowMs: windowStats(kills.map((kill) => kill.windowMs)),
      lostWrites: audited?.audit.lostWrites ?? null,
      failedWrites,
      indeterminate,
      acknowledged,
      failedWritesApplied: audited?.audit.failedWritesApplied ?? failedWritesApplied,
      indeterminateApplied: audited?.audit.indeterminateApplied ?? indeterminateApplied,
      lostExamples: audited?.audit.lostExamples ?? [],
      consistent: audited?.consistent ?? false,
      throughput: summary?.throughput ?? 0,
      errors: summary?.errors ?? {},
      killsDone: kills,
      ...(error === undefined ? {} : { error }),
    };
  } finally {
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export function formatTable(report: FailoverReport): string {
  const rows = report.results.map((r) =>
    [
      r.writeQuorum,
      r.kills,
      r.windowMs.p50,
      r.windowMs.mean,
      r.windowMs.max,
      r.acknowledged,
      r.lostWrites,
      r.failedWrites,
      r.indeterminate,
      r.consistent ? "yes" : "NO",
    ].join(" | "),
  );
  const notes = report.results.filter((r) => r.error).map((r) => `W=${r.writeQuorum} stopped early: ${r.error}`);
  return [
    "| W | kills | window p50 ms | mean | max | acknowledged | lost | failed | indeterminate | consistent |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ...rows.map((row) => `| ${row} |`),
    ...(notes.length > 0 ? ["", ...notes] : []),
  ].join("\n");
}

function readSweep(path: string): SweepReport | null {
  if (!existsSync(path)) return null;
  return JSON.parse(readFileSync(path, "utf8")) as SweepReport;
}

async function main(): Promise<void> {
  const options = parseOptions();
  const results: FailoverResult[] = [];
  for (const w of options.quorumList) results.push(await runQuorum(w, options));
  const report: FailoverReport = {
    generatedAt: new Date().toISOString(),
    workload: {
      nodes: options.nodes,
      concurrency: options.concurrency,
      killsPerQuorum: options.kills,
      sync: options.sync,
      restartDelayMs: options.restartDelayMs,
      steadyWrites: options.steadyWrites,
      windowBoundMs: options.windowBoundMs,
      env: options.env,
    },
    results,
  };
  mkdirSync(options.outDir, { recursive: true });
  const base = join(options.outDir, "failover");
  const { svg, png } = await renderFailoverChart(report, readSweep(options.sweep));
  writeFileSync(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(`${base}.svg`, svg);
  writeFileSync(`${base}.png`, png);
  console.log(formatTable(report));
  console.log(`wrote ${["json", "svg", "png"].map((ext) => relative(process.cwd(), `${base}.${ext}`)).join(", ")}`);
  if (results.some((r) => r.lostWrites !== 0 || !r.consistent || r.error)) process.exitCode = 1;
}

if (import.meta.main) {
  await main().catch((error: Error) => {
    console.error(`failover: ${error.message}`);
    process.exit(error instanceof FlagError || error instanceof TargetError ? 2 : 1);
  });
}
