import { FlagError, parseToolFlags } from "../src/flags.ts";
import { LatencyRecorder, type LatencyStatsMs, type PercentilePoint } from "./lib/latency.ts";
import { toolStorageChoices, withLocalCluster } from "./lib/local-cluster.ts";
import { progressBar } from "./lib/progress.ts";
import { IndeterminateError, LeaderClient, NoLeaderError, leaderWaitMsDefault, networkErrorCode } from "./lib/leader-client.ts";
import { TargetError, findTarget } from "./lib/target.ts";

/**
 * The k6 workloads without k6 (k6/writes.js, k6/open-rate.js): PUT /kv/key-<i % keys> with
 * {"value": "value-<i>"}. Closed model: C clients, each sends its next write when the last one
 * answered, after an optional think time (k6's `sleep()`); latency counts from the actual send, so
 * the pause is never charged to a write. Open model: writes start on a fixed schedule whatever
 * the answers, and latency is measured from the scheduled start, so a stall is charged to every
 * write it delayed (no coordinated omission). Latency percentiles are those of the successful (200) writes.
 * Writes follow the leader (tools/lib/leader-client.ts): a 421, an election or a dead leader
 * delays a write, and its latency includes the wait. A write whose fate is unknown (the connection
 * broke after it was sent, a timeout, 503 quorum_timeout) is indeterminate, not failed.
 */

/** A write that has not answered after this is counted as a "timeout" error. */
const requestTimeoutMsDefault = 30_000;
/** Open model: writes in flight beyond this are dropped and counted (k6's dropped_iterations). */
const inFlightMaxDefault = 10_000;

export interface LoadSummary {
  model: "closed" | "open";
  leaderUrl: string;
  keys: number;
  quorum: number | null;
  concurrency?: number;
  /** Closed model: pause after each answer before the client's next write. */
  thinkMs?: number;
  rate?: number;
  durationS?: number;
  /** Writes sent. */
  writes: number;
  succeeded: number;
  /** Refused for sure: not applied (4xx, 503 overloaded, no leader within the bound). */
  failed: number;
  /** May or may not have been applied: neither acknowledged nor failed (DESIGN §4, quorum_timeout). */
  indeterminate: number;
  /** Open model: scheduled writes never sent because inFlightMax were waiting. */
  dropped: number;
  seconds: number;
  /** Successful writes per second. */
  throughput: number;
  successRate: number;
  latencyMs: LatencyStatsMs;
  /** Error code (the JSON `error` field, http_<status>, or the network error) → count. */
  errors: Record<string, number>;
  /**
   * Successful writes by the `acks` of their answer: how many followers held the write when the
   * leader answered. Spaced writes answered at exactly the k-th acknowledgement all show k.
   * Empty where the answers are not seen (the k6 driver).
   */
  acks: Record<string, number>;
  /** Open model: how late the generator itself sent writes (already included in latencyMs). */
  sendLagMs?: { mean: number; max: number };
  distribution: PercentilePoint[];
}

/** How one write ended, for a caller that audits the writes afterwards (bench/failover.ts). */
export interface WriteRecord {
  index: number;
  key: string;
  value: string;
  outcome: "acknowledged" | "failed" | "indeterminate";
  /** The error code when not acknowledged. */
  code?: string;
  /** The node that answered (the leader, for an acknowledged write). */
  url?: string;
  offset?: number;
  /** performance.now() when the answer (or the error) arrived. */
  answeredAtMs: number;
}

interface Workload {
  leaderUrl: string;
  /** Other nodes to ask for the leader when it is gone (--peers, cluster.json). */
  nodeUrls?: readonly string[];
  keys: number;
  quorum?: number;
  requestTimeoutMs?: number;
  /** Bound on following one write to a leader (redirects, elections, a dead leader). */
  leaderWaitMs?: number;
  onWrite?: (record: WriteRecord) => void;
}

/** Answers that leave a write's fate open: the leader may have logged it (DESIGN §4). */
const indeterminateCodes = new Set(["quorum_timeout"]);

/** One write of the workload: the same key and value shape as the k6 scripts. */
export function workloadRequest(index: number, keys: number, quorum?: number): { path: string; body: string } {
  const query = quorum === undefined ? "" : `?quorum=${quorum}`;
  return { path: `/kv/key-${index % keys}${query}`, body: JSON.stringify({ value: `value-${index}` }) };
}

class Tally {
  readonly client: LeaderClient;
  readonly latency = new LatencyRecorder();
  readonly errors: Record<string, number> = {};
  readonly acks: Record<string, number> = {};
  sent = 0;
  succeeded = 0;
  failed = 0;
  indeterminate = 0;

  constructor(readonly workload: Workload) {
    this.client = new LeaderClient({
      leaderUrl: workload.leaderUrl,
      nodeUrls: workload.nodeUrls,
      leaderWaitMs: workload.leaderWaitMs,
      requestTimeoutMs: workload.requestTimeoutMs ?? requestTimeoutMsDefault,
    });
  }

  /** Sends write `index`; latency counts from `startMs` (the scheduled time in the open model). */
  async send(index: number, startMs = performance.now()): Promise<void> {
    const { path, body } = workloadRequest(index, this.workload.keys, this.workload.quorum);
    this.sent++;
    let record: Omit<WriteRecord, "index" | "key" | "value" | "answeredAtMs">;
    try {
      // Bun's and Node's fetch keep connections alive and reuse them: no new TCP handshake per write.
      const answer = await this.client.send(path, { method: "PUT", headers: { "content-type": "application/json" }, body });
      const parsed = parseAnswer(answer.text);
      if (answer.status === 200) {
        record = { outcome: "acknowledged", url: answer.url, offset: parsed.offset };
        if (parsed.acks !== undefined) this.acks[parsed.acks] = (this.acks[parsed.acks] ?? 0) + 1;
      } else {
        const code = parsed.error ?? `http_${answer.status}`;
        record = { outcome: indeterminateCodes.has(code) ? "indeterminate" : "failed", code, url: answer.url, offset: parsed.offset };
      }
    } catch (error) {
      if (error instanceof IndeterminateError) record = { outcome: "indeterminate", code: error.code, url: error.url };
      else if (error instanceof NoLeaderError) record = { outcome: "failed", code: "leader_not_found" };
      else record = { outcome: "failed", code: networkErrorCode(error) };
    }
    const answeredAtMs = performance.now();
    if (record.outcome === "acknowledged") {
      this.succeeded++;
      this.latency.record(answeredAtMs - startMs);
    } else {
      if (record.outcome === "failed") this.failed++;
      else this.indeterminate++;
      this.errors[record.code!] = (this.errors[record.code!] ?? 0) + 1;
    }
    this.workload.onWrite?.({ index, key: path.split("?")[0]!.slice("/kv/".length), value: `value-${index}`, answeredAtMs, ...record });
  }

  summary(base: Pick<LoadSummary, "model" | "leaderUrl" | "keys" | "quorum">, seconds: number, dropped = 0): LoadSummary {
    return {
      ...base,
      writes: this.sent,
      succeeded: this.succeeded,
      failed: this.failed,
      indeterminate: this.indeterminate,
      dropped,
      seconds: round(seconds, 3),
      throughput: round(seconds > 0 ? this.succeeded / seconds : 0, 1),
      successRate: this.sent + dropped > 0 ? this.succeeded / (this.sent + dropped) : 0,
      latencyMs: this.latency.stats(),
      errors: this.errors,
      acks: this.acks,
      distribution: this.latency.distribution(),
    };
  }
}

/** The fields of an answer the tally uses; a body that is not the node's JSON has none. */
function parseAnswer(text: string): { error?: string; offset?: number; acks?: number } {
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    return {
      error: typeof body.error === "string" ? body.error : undefined,
      offset: typeof body.offset === "number" ? body.offset : undefined,
      acks: typeof body.acks === "number" ? body.acks : undefined,
    };
  } catch {
    return {};
  }
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));

export interface ClosedLoadOptions extends Workload {
  writes: number;
  concurrency: number;
  /** Pause after each answer before the same client's next write (0 = none). */
  thinkMs?: number;
  onProgress?: (done: number) => void;
  /** Clients stop after their current write once this aborts (the failover bench's load). */
  stop?: AbortSignal;
}

/**
 * Closed model: `concurrency` clients share `writes` writes, each waiting for its answer and then
 * `thinkMs`. One client with a think time above MAX_DELAY_MS sends writes that never queue behind
 * an earlier write's messages: the unordered bound's setting (docs/design.md §6).
 */
export async function runClosedLoad(options: ClosedLoadOptions): Promise<LoadSummary> {
  const tally = new Tally(options);
  let next = 0;
  let done = 0;
  const client = async () => {
    while (next < options.writes && !options.stop?.aborted) {
      await tally.send(next++);
      options.onProgress?.(++done);
      if (options.thinkMs && next < options.writes) await Bun.sleep(options.thinkMs);
    }
  };
  const startedMs = performance.now();
  await Promise.all(Array.from({ length: Math.min(options.concurrency, options.writes) }, client));
  const seconds = (performance.now() - startedMs) / 1000;
  const base = { model: "closed" as const, leaderUrl: options.leaderUrl, keys: options.keys, quorum: options.quorum ?? null };
  return { ...tally.summary(base, seconds), concurrency: options.concurrency, thinkMs: options.thinkMs ?? 0 };
}

export interface OpenLoadOptions extends Workload {
  /** Writes started per second. */
  rate: number;
  durationS: number;
  inFlightMax?: number;
  onProgress?: (started: number) => void;
}

/** Open model: write i starts at i/rate seconds; a write that cannot start is dropped, not delayed. */
export async function runOpenLoad(options: OpenLoadOptions): Promise<LoadSummary> {
  const tally = new Tally(options);
  const total = Math.floor(options.rate * options.durationS);
  const inFlightMax = options.inFlightMax ?? inFlightMaxDefault;
  const intervalMs = 1000 / options.rate;
  const inFlight = new Set<Promise<void>>();
  let dropped = 0;
  let lagSumMs = 0;
  let lagMaxMs = 0;
  const startedMs = performance.now();
  let index = 0;
  while (index < total) {
    const nowMs = performance.now();
    for (; index < total && startedMs + index * intervalMs <= nowMs; index++) {
      if (inFlight.size >= inFlightMax) {
        dropped++;
        continue;
      }
      const scheduledMs = startedMs + index * intervalMs;
      lagSumMs += nowMs - scheduledMs;
      lagMaxMs = Math.max(lagMaxMs, nowMs - scheduledMs);
      const write = tally.send(index, scheduledMs).finally(() => inFlight.delete(write));
      inFlight.add(write);
    }
    options.onProgress?.(index);
    // Timers tick in whole milliseconds; writes due within one tick go out together.
    if (index < total) await Bun.sleep(Math.max(1, startedMs + index * intervalMs - performance.now()));
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - startedMs) / 1000;
  const base = { model: "open" as const, leaderUrl: options.leaderUrl, keys: options.keys, quorum: options.quorum ?? null };
  return {
    ...tally.summary(base, seconds, dropped),
    rate: options.rate,
    durationS: options.durationS,
    sendLagMs: { mean: round(tally.sent > 0 ? lagSumMs / tally.sent : 0, 3), max: round(lagMaxMs, 3) },
  };
}

export function formatSummary(summary: LoadSummary): string {
  const { latencyMs: l } = summary;
  const shape =
    summary.model === "closed"
      ? `closed model, ${summary.concurrency} clients` + (summary.thinkMs ? `, ${summary.thinkMs} ms think time` : "")
      : `open model, ${summary.rate}/s for ${summary.durationS} s (latency from the scheduled start)`;
  const errors = Object.entries(summary.errors)
    .sort((x, y) => y[1] - x[1])
    .map(([code, count]) => `${code} ${count}`);
  const lines = [
    `quorumkv load: ${summary.writes} writes to ${summary.leaderUrl}, ${summary.keys} keys, ${shape}` +
      (summary.quorum === null ? "" : `, ?quorum=${summary.quorum}`),
    `  throughput  ${summary.throughput.toFixed(1)} writes/s over ${summary.seconds.toFixed(2)} s`,
    `  success     ${(summary.successRate * 100).toFixed(2)} % (${summary.succeeded} ok, ${summary.failed} failed, ${summary.indeterminate} indeterminate` +
      (summary.model === "open" ? `, ${summary.dropped} dropped)` : ")"),
    `  latency ms  p50 ${l.p50.toFixed(2)}  p90 ${l.p90.toFixed(2)}  p95 ${l.p95.toFixed(2)}  p99 ${l.p99.toFixed(2)}  max ${l.max.toFixed(2)}  mean ${l.mean.toFixed(2)}`,
    `  errors      ${errors.length > 0 ? errors.join(", ") : "none"}`,
  ];
  const acks = Object.entries(summary.acks).map(([count, writes]) => `${count}: ${writes}`);
  if (acks.length > 0) lines.push(`  acks        ${acks.join(", ")} (followers holding a write when it was answered: writes)`);
  if (summary.sendLagMs)
    lines.push(`  send lag ms mean ${summary.sendLagMs.mean.toFixed(2)}  max ${summary.sendLagMs.max.toFixed(2)} (generator's own lateness)`);
  return lines.join("\n");
}

const usage = `Usage: bun run load [flags]

The k6 workload without k6: PUT /kv/key-<i % keys> {"value": "value-<i>"} to the leader.
Closed model (default): --writes N shared by --concurrency C clients, each pausing --think-ms
after every answer.
Open model: --rate R writes/s for --duration S seconds; latency counts from the scheduled start.
Talks to --leader (env LEADER_URL, default http://127.0.0.1:5001; any node will do: writes
follow the leader, through elections too), or with --local starts its own cluster on free
ports and stops it afterwards.`;

const flags = {
  writes: { type: "number", default: 10_000, integer: true, min: 1, help: "closed model: writes in all" },
  concurrency: { type: "number", default: 20, integer: true, min: 1, help: "closed model: concurrent clients" },
  thinkMs: { type: "number", default: 0, min: 0, help: "closed model: pause after each answer (k6 sleep)" },
  keys: { type: "number", default: 100, integer: true, min: 1, help: "distinct keys (key-0 … key-<K−1>)" },
  rate: { type: "number", min: 0.001, help: "open model: writes started per second (selects the open model)" },
  duration: { type: "number", default: 10, min: 0.001, help: "open model: seconds of load" },
  inFlightMax: { type: "number", default: inFlightMaxDefault, integer: true, min: 1, help: "open model: writes in flight before new ones are dropped" },
  quorum: { type: "number", integer: true, min: 0, help: "per-request ?quorum= (max with WRITE_QUORUM)" },
  requestTimeoutMs: { type: "number", default: requestTimeoutMsDefault, min: 1, help: "a write not answered by then is a timeout error" },
  leader: { type: "string", help: "leader base URL (env LEADER_URL); a follower's URL works too" },
  peers: { type: "string", help: "comma-separated node URLs to ask for the leader when it is gone (default: .quorumkv/cluster.json's)" },
  leaderWaitMs: { type: "number", default: leaderWaitMsDefault, min: 0, help: "bound on following one write to a leader (election, dead leader)" },
  token: { type: "string", help: "cluster token (unused by writes; accepted for symmetry with the other tools)" },
  local: { type: "boolean", help: "start a local cluster on free ports for this run" },
  followers: { type: "number", default: 5, integer: true, min: 0, help: "--local: followers" },
  minDelayMs: { type: "number", min: 0, help: "--local: MIN_DELAY_MS (node default 0.1)" },
  maxDelayMs: { type: "number", min: 0, help: "--local: MAX_DELAY_MS (node default 10)" },
  writeQuorum: { type: "number", integer: true, min: 0, help: "--local: WRITE_QUORUM (default min(3, followers))" },
  sync: { type: "string", default: "memory", choices: toolStorageChoices, help: "--local: the nodes' storage, memory or DATA_DIR with SYNC=fsync|write|none" },
  json: { type: "boolean", help: "print the summary as JSON on stdout" },
} as const;

async function main(): Promise<void> {
  const options = parseToolFlags("load", usage, flags);
  const run = async (leaderUrl: string, nodeUrls: readonly string[]) => {
    const workload = {
      leaderUrl,
      nodeUrls,
      keys: options.keys,
      quorum: options.quorum,
      requestTimeoutMs: options.requestTimeoutMs,
      leaderWaitMs: options.leaderWaitMs,
    };
    if (options.rate !== undefined) {
      const total = Math.floor(options.rate * options.duration);
      const bar = progressBar(total, "load");
      const summary = await runOpenLoad({
        ...workload,
        rate: options.rate,
        durationS: options.duration,
        inFlightMax: options.inFlightMax,
        onProgress: bar.set,
      });
      bar.finish();
      return summary;
    }
    const bar = progressBar(options.writes, "load");
    const summary = await runClosedLoad({
      ...workload,
      writes: options.writes,
      concurrency: options.concurrency,
      thinkMs: options.thinkMs,
      onProgress: bar.set,
    });
    bar.finish();
    return summary;
  };
  const summary = options.local
    ? await withLocalCluster(
        { followers: options.followers, minDelayMs: options.minDelayMs, maxDelayMs: options.maxDelayMs, writeQuorum: options.writeQuorum },
        (cluster) => run(cluster.leader.url, []),
        options.sync,
      )
    : await (async () => {
        // Fail early and clearly when nothing is there; only this tool has --local.
        const target = await findTarget({ leader: options.leader, peers: options.peers, leaderWaitMs: options.leaderWaitMs }).catch((error: Error) => {
          throw error instanceof TargetError ? new TargetError(`${error.message}, or use --local`) : error;
        });
        return run(target.leaderUrl, target.nodeUrls);
      })();
  if (options.json) {
    const { distribution: _, ...rest } = summary;
    process.stdout.write(`${JSON.stringify(rest, null, 2)}\n`);
  } else {
    console.log(formatSummary(summary));
  }
}

if (import.meta.main) {
  await main().catch((error: Error) => {
    console.error(`load: ${error.message}`);
    process.exit(error instanceof TargetError || error instanceof FlagError ? 2 : 1);
  });
}
