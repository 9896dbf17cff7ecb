import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { LoadSummary } from "../load.ts";
import { LatencyRecorder } from "./latency.ts";

/**
 * `bun run sweep --driver k6`: runs k6/writes.js and turns k6's JSON output (one line per
 * sample, documented at grafana.com/docs/k6/latest/results-output/real-time/json) into the same
 * summary as the built-in driver, so both plot and tabulate alike.
 */

const writesScript = resolve(import.meta.dir, "..", "..", "k6", "writes.js");
/** k6 exits 99 when a threshold failed; the run itself still counts. */
const thresholdsFailedExitCode = 99;

export class K6Error extends Error {
  override name = "K6Error";
}

export function findK6(): string {
  const path = Bun.which("k6");
  if (!path)
    throw new K6Error("--driver k6 needs the k6 binary on PATH (https://grafana.com/docs/k6/latest/set-up/install-k6/); the default driver needs nothing");
  return path;
}

interface K6Point {
  type: string;
  metric: string;
  data: { time: string; value: number; tags?: Record<string, string> | null };
}

/**
 * Summarizes the `write_ms` samples of a `k6 run --out json=…` file: one per write, after
 * following the leader (k6/lib/leader.js), tagged with its outcome and error code.
 */
export function summarizeK6Output(ndjson: string, base: { leaderUrl: string; keys: number; concurrency: number }): LoadSummary {
  const latency = new LatencyRecorder();
  const errors: Record<string, number> = {};
  let writes = 0;
  let indeterminate = 0;
  let firstStartMs = Number.POSITIVE_INFINITY;
  let lastEndMs = Number.NEGATIVE_INFINITY;
  for (const line of ndjson.split("\n")) {
    if (!line.includes('"write_ms"')) continue;
    const point = JSON.parse(line) as K6Point;
    if (point.type !== "Point" || point.metric !== "write_ms") continue;
    writes++;
    const endMs = Date.parse(point.data.time);
    firstStartMs = Math.min(firstStartMs, endMs - point.data.value);
    lastEndMs = Math.max(lastEndMs, endMs);
    const tags = point.data.tags ?? {};
    if (tags.outcome === "acknowledged") {
      latency.record(point.data.value);
    } else {
      if (tags.outcome === "indeterminate") indeterminate++;
      const code = tags.code || "unknown";
      errors[code] = (errors[code] ?? 0) + 1;
    }
  }
  const succeeded = latency.count;
  const seconds = writes > 0 ? (lastEndMs - firstStartMs) / 1000 : 0;
  return {
    model: "closed",
    leaderUrl: base.leaderUrl,
    keys: base.keys,
    quorum: null,
    concurrency: base.concurrency,
    writes,
    succeeded,
    failed: writes - succeeded - indeterminate,
    indeterminate,
    dropped: 0,
    seconds: Number(seconds.toFixed(3)),
    throughput: Number((seconds > 0 ? succeeded / seconds : 0).toFixed(1)),
    successRate: writes > 0 ? succeeded / writes : 0,
    latencyMs: latency.stats(),
    errors,
    acks: {},
    distribution: latency.distribution(),
  };
}

export async function runK6Writes(options: {
  leaderUrl: string;
  /** Every node k6/lib/leader.js may ask for the leader (PEERS). */
  nodeUrls: readonly string[];
  writes: number;
  concurrency: number;
  keys: number;
}): Promise<LoadSummary> {
  const k6 = findK6();
  const folder = mkdtempSync(join(tmpdir(), "quorumkv-k6-"));
  const output = join(folder, "samples.json");
  try {
    const env = { BASE_URL: options.leaderUrl, PEERS: options.nodeUrls.join(","), WRITES: options.writes, VUS: options.concurrency, KEYS: options.keys };
    const envFlags = Object.entries(env).flatMap(([name, value]) => ["-e", `${name}=${value}`]);
    const child = Bun.spawn([k6, "run", "--quiet", "--no-color", "--out", `json=${output}`, ...envFlags, writesScript], {
      stdout: "ignore",
      stderr: "inherit",
    });
    const exitCode = await child.exited;
    if (exitCode !== 0 && exitCode !== thresholdsFailedExitCode) throw new K6Error(`k6 exited with status ${exitCode}`);
    return summarizeK6Output(readFileSync(output, "utf8"), options);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
