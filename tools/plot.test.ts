import { expect, test } from "bun:test";
import { renderChart, renderSweepCharts, storageComparisonSpec, sweepChartSpec } from "./plot.ts";
import { markdownTable, type SweepReport } from "./sweep.ts";

const report: SweepReport = {
  generatedAt: "2025-01-01T00:00:00.000Z",
  driver: "bun",
  workload: { writes: 100, concurrency: 20, keys: 100, minDelayMs: 0.1, maxDelayMs: 10, followers: 5, leaderUrl: "http://l", localCluster: true },
  results: [0, 1, 2].map((quorum) => ({
    quorum,
    writes: 100,
    succeeded: 100 - quorum,
    seconds: 0.05,
    throughput: 2000 - quorum * 100,
    successRate: (100 - quorum) / 100,
    latencyMs: { min: 1, mean: 5 + quorum, p50: 4 + quorum, p90: 8, p95: 9 + quorum, p99: 12, max: 20 },
    errors: (quorum > 0 ? { quorum_timeout: quorum } : {}) as Record<string, number>,
    theory: quorum === 0 ? null : { medianMs: 1.5 * quorum, meanMs: 1.7 * quorum },
    bound: quorum === 0 ? null : { medianMs: 6.5 + quorum, meanMs: 6.4 + quorum, throughput: 3000 - quorum * 200 },
    consistent: true,
    measuredDelayMs: quorum === 0 ? null : { samples: 4096, meanMs: 5.06, p25Ms: 2.57, p50Ms: 5.04, p75Ms: 7.52 },
    distribution: [
      { percentile: 50, latencyMs: 4 + quorum },
      { percentile: 99.9, latencyMs: 15 },
      { percentile: 100, latencyMs: 20 },
    ],
  })),
  consistency: { consistent: true, converged: true, waitedMs: 5, nodes: [] },
};

test("the markdown table reports the delays applied beside the model's", () => {
  const table = markdownTable(report);
  expect(table).toContain("model mean 5.05, quartiles 2.58 / 5.05 / 7.53");
  expect(table).toContain("q1 mean 5.06, quartiles 2.57 / 5.04 / 7.52");
});

test("the markdown table has one row per quorum with both bounds, and – where there is none", () => {
  const table = markdownTable(report);
  expect(table).toContain("| 1 | 99.00 | 1900 | 5.00 | 6.00 | 10.00 | 12.00 | 1.50 | 7.50 | 2800 |");
  expect(table).toContain("| 0 | 100.00 | 2000 | 4.00 | 5.00 | 9.00 | 12.00 | – | – | – |");
  expect(table).toContain("every node's digest matched");
});

test("the chart has the four panels, both reference curves, and the slowest 1 % left out of the distribution", () => {
  const spec = JSON.stringify(sweepChartSpec(report));
  for (const title of ["Latency vs quorum", "Throughput vs quorum", "Latency distribution per quorum", "Success rate"]) {
    expect(spec).toContain(title);
  }
  expect(spec).toContain('"series":"unordered bound (median)","latencyMs":1.5');
  expect(spec).toContain('"series":"ordered-log bound","throughput":2800');
  expect(spec).not.toContain('"percentile":99.9,');
  expect(spec).toContain('"percentile":50,');
});

test("renders to an SVG and a PNG", async () => {
  const { svg, png } = await renderSweepCharts(report);
  expect(svg.startsWith("<svg")).toBe(true);
  expect(svg).toContain("ordered-log bound (median)");
  expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
});

test("the storage comparison draws each sweep's p50, p95 and throughput under its storage, with the first one's bound dashed", async () => {
  const fsync: SweepReport = {
    ...report,
    workload: { ...report.workload, storage: "fsync" },
    results: report.results.map((r) => ({ ...r, throughput: r.throughput / 2, latencyMs: { ...r.latencyMs, p50: r.latencyMs.p50 + 0.5 } })),
  };
  const spec = storageComparisonSpec([report, fsync]);
  const text = JSON.stringify(spec);
  expect(text).toContain("memory vs SYNC=fsync");
  expect(text).toContain('"series":"p50, memory","latencyMs":5');
  expect(text).toContain('"series":"p50, SYNC=fsync","latencyMs":5.5');
  expect(text).toContain('"series":"SYNC=fsync","throughput":950');
  expect(text).toContain('"series":"ordered-log bound","throughput":2800');
  // Only the bound is dashed.
  const dashes = (spec as { hconcat: { encoding: { strokeDash: { scale: { domain: string[]; range: number[][] } } } }[] }).hconcat.map(
    (panel) => panel.encoding.strokeDash.scale,
  );
  expect(dashes).toHaveLength(2);
  for (const { domain, range } of dashes) {
    expect(domain.at(-1)).toContain("ordered-log bound");
    expect(range.filter((dash) => dash[0] !== 1)).toEqual([range.at(-1)!]);
  }
  const { svg } = await renderChart(spec);
  expect(svg).toContain("p95, SYNC=fsync");
});
