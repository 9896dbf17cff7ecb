import { parseToolFlags } from "../src/flags.ts";
import { median } from "../tools/lib/latency.ts";
import { withLocalCluster } from "../tools/lib/local-cluster.ts";
import { putAdminConfig } from "../tools/lib/target.ts";
import { runClosedLoad } from "../tools/load.ts";
import { unorderedBound } from "../tools/theory.ts";

/**
 * One client, writes spaced wider than MAX_DELAY_MS (docs/design.md §6, the unordered bound): each write
 * waits for the k-th fastest of five fresh delay draws, and for nothing else. The same client also
 * writes, at the same spacing, to a second local cluster of one follower with zero delays: the
 * cost of the path itself (the client's HTTP round trip to the leader, one follower hop, and the
 * processes woken from sleep on the way), measured before each quorum's run and after the last,
 * and taken as the median of those six, since it drifts with the machine's load. (Zero delays
 * on the five-follower cluster would not do: its five followers would wake at once and queue for
 * the two cores, where delayed messages reach them one at a time.) Then
 *
 *   p50 − bound          what a client sees above the model;
 *   p50 − path − bound   what is left once the path's own cost is taken out: near zero when the
 *                        leader answers at exactly the k-th acknowledgement;
 *   step                 p50(q) − p50(q−1) against the bound's step, which the path's cost
 *                        (the same at every quorum) cancels out of;
 *   acks = k             the share of answers that say exactly k followers held the write.
 */
const usage = `Usage: bun run spaced [flags]

One client, --think-ms between an answer and the next write (wider than MAX_DELAY_MS), quorum
1..5 on a local cluster of 5 followers; the path's own cost from a second local cluster of 1
follower with zero delays, at the same spacing.`;

const flags = {
  writes: { type: "number", default: 300, integer: true, min: 10, help: "measured writes per quorum row and per path-cost run" },
  thinkMs: { type: "number", default: 12, min: 0, help: "pause after each answer (above MAX_DELAY_MS)" },
  minDelayMs: { type: "number", default: 0.1, min: 0, help: "MIN_DELAY_MS of the delayed runs" },
  maxDelayMs: { type: "number", default: 10, min: 0, help: "MAX_DELAY_MS of the delayed runs" },
  json: { type: "boolean", help: "print the rows as JSON" },
} as const;

export interface SpacedRow {
  quorum: number;
  p50Ms: number;
  meanMs: number;
  boundMedianMs: number;
  boundMeanMs: number;
  /** Share of answers whose `acks` is exactly the quorum: answered at the k-th acknowledgement. */
  answeredAtK: number;
}

const options = parseToolFlags("spaced", usage, flags);
const followers = 5;
const delay = { minDelayMs: options.minDelayMs, maxDelayMs: options.maxDelayMs };
/** Before each measured run, at the same spacing. */
const warmupWrites = 20;
/** Before anything is measured, on each cluster: the nodes' code gets compiled (JIT) first. */
const jitWarmup = { writes: 3000, concurrency: 20 };

const spaced = (leaderUrl: string) => async () => {
  await runClosedLoad({ leaderUrl, writes: warmupWrites, concurrency: 1, keys: 100, thinkMs: options.thinkMs });
  const summary = await runClosedLoad({ leaderUrl, writes: options.writes, concurrency: 1, keys: 100, thinkMs: options.thinkMs });
  if (summary.failed > 0) throw new Error(`${summary.failed} writes failed: ${JSON.stringify(summary.errors)}`);
  return summary;
};
const progress = (line: string) => options.json || process.stderr.write(`spaced: ${line}\n`);

const { rows, pathP50Ms } = await withLocalCluster({ followers: 1, minDelayMs: 0, maxDelayMs: 0, writeQuorum: 1 }, (single) =>
  withLocalCluster({ followers, ...delay, writeQuorum: 1 }, async (cluster) => {
    const path = async () => {
      const p50 = (await spaced(single.leader.url)()).latencyMs.p50;
      progress(`path cost: p50 ${p50.toFixed(2)} ms`);
      return p50;
    };
    for (const leaderUrl of [single.leader.url, cluster.leader.url]) await runClosedLoad({ leaderUrl, keys: 100, ...jitWarmup });
    const paths: number[] = [];
    const result: SpacedRow[] = [];
    for (let quorum = 1; quorum <= followers; quorum++) {
      paths.push(await path());
      await putAdminConfig(cluster.leader.url, cluster.token, { writeQuorum: quorum });
      const { latencyMs: latency, acks, succeeded } = await spaced(cluster.leader.url)();
      const bound = unorderedBound(quorum, followers, delay);
      const atK = (acks[quorum] ?? 0) / succeeded;
      result.push({ quorum, p50Ms: latency.p50, meanMs: latency.mean, boundMedianMs: bound.medianMs, boundMeanMs: bound.meanMs, answeredAtK: atK });
      progress(`quorum ${quorum}: p50 ${latency.p50.toFixed(2)} ms`);
    }
    paths.push(await path());
    return { rows: result, pathP50Ms: paths };
  }),
);
const pathMs = median(pathP50Ms);

const f = (ms: number) => ms.toFixed(2);
const signed = (ms: number) => `${ms >= 0 ? "+" : "−"}${Math.abs(ms).toFixed(2)}`;
if (options.json) {
  process.stdout.write(`${JSON.stringify({ thinkMs: options.thinkMs, writes: options.writes, ...delay, pathP50Ms, pathMedianMs: pathMs, rows }, null, 2)}\n`);
} else {
  console.log(`one client, ${options.thinkMs} ms think time, ${options.writes} writes per row, delays U(${delay.minDelayMs}, ${delay.maxDelayMs}) ms`);
  console.log(`path cost (1 follower, zero delay, same spacing): p50 ${pathP50Ms.map(f).join(", ")} ms; median ${f(pathMs)} ms\n`);
  console.log("| quorum | p50 | mean | unordered median | p50 − bound | p50 − path − bound | step | bound step | answers with acks = k |");
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  rows.forEach((row, i) => {
    const previous = rows[i - 1];
    const step = previous ? signed(row.p50Ms - previous.p50Ms) : "";
    const boundStep = previous ? signed(row.boundMedianMs - previous.boundMedianMs) : "";
    console.log(
      `| ${row.quorum} | ${f(row.p50Ms)} | ${f(row.meanMs)} | ${f(row.boundMedianMs)} | ${signed(row.p50Ms - row.boundMedianMs)} | ` +
        `${signed(row.p50Ms - pathMs - row.boundMedianMs)} | ${step} | ${boundStep} | ${(row.answeredAtK * 100).toFixed(1)} % |`,
    );
  });
}
