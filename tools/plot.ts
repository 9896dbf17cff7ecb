import { existsSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import * as vegaLite from "vega-lite";
import type { TopLevelSpec } from "vega-lite";
import { parseToolFlags } from "../src/flags.ts";
import type { SweepReport } from "./sweep.ts";

/**
 * The sweep's four panels (the seed's figure, plus the two reference curves): vega-lite spec →
 * vega → SVG, and @resvg/resvg-js for the PNG, so no browser is needed.
 */

/**
 * Where `bun run sweep` writes and `bun run plot` reads by default: untracked, unlike results/
 * (the committed figures). Relative to the working directory, so that --help shows it short.
 */
export const sweepOutDirDefault = relative(process.cwd(), resolve(import.meta.dir, "..", ".quorumkv", "results"));

const panelWidth = 440;
const panelHeight = 250;
/** The PNG is drawn at twice the SVG's size so that text stays sharp. */
const pngScale = 2;
const fontFamily = "DejaVu Sans, Liberation Sans, Arial, sans-serif";

const latencySeries = ["p50", "mean", "p95", "unordered bound (median)", "ordered-log bound (median)"];
const throughputSeries = ["measured", "ordered-log bound"];
const solid = [1, 0];
const dashed = [6, 4];

function latencyRows(report: SweepReport) {
  return report.results.flatMap((r) => [
    { quorum: r.quorum, series: "p50", latencyMs: r.latencyMs.p50 },
    { quorum: r.quorum, series: "mean", latencyMs: r.latencyMs.mean },
    { quorum: r.quorum, series: "p95", latencyMs: r.latencyMs.p95 },
    ...(r.theory ? [{ quorum: r.quorum, series: "unordered bound (median)", latencyMs: r.theory.medianMs }] : []),
    ...(r.bound ? [{ quorum: r.quorum, series: "ordered-log bound (median)", latencyMs: r.bound.medianMs }] : []),
  ]);
}

function throughputRows(report: SweepReport) {
  return report.results.flatMap((r) => [
    { quorum: r.quorum, series: "measured", throughput: r.throughput },
    ...(r.bound ? [{ quorum: r.quorum, series: "ordered-log bound", throughput: r.bound.throughput }] : []),
  ]);
}

/** Colour and dash on the same field: vega-lite draws one legend whose symbols show both. */
function seriesEncoding(domain: string[], colors: string[], dashes: number[][]) {
  return {
    color: { field: "series", type: "nominal", title: null, scale: { domain, range: colors } },
    strokeDash: { field: "series", type: "nominal", title: null, scale: { domain, range: dashes } },
  } as const;
}

function distributionRows(report: SweepReport) {
  // Up to p99: the few slowest writes (p95..max are in the table) would stretch the axis and
  // squeeze every curve into its left third.
  return report.results.flatMap((r) => r.distribution.filter((p) => p.percentile <= 99).map((p) => ({ quorum: `quorum ${r.quorum}`, ...p })));
}

const quorumAxis = { field: "quorum", type: "quantitative", title: "write quorum", axis: { tickMinStep: 1, format: "d" } } as const;

/** Fonts, legend and background shared by every figure. */
const chartConfig = {
  background: "white",
  padding: 16,
  font: fontFamily,
  title: { fontSize: 14 },
  axis: { labelFontSize: 12, titleFontSize: 13, grid: true },
  legend: {
    labelFontSize: 12,
    labelLimit: 260,
    orient: "bottom",
    direction: "horizontal",
    columns: 2,
    symbolType: "stroke",
    symbolSize: 400,
    symbolStrokeWidth: 2.5,
  },
} as const;

/** The quorum axis's domain, with room on either side of the first and last quorum. */
function quorumScale(quorums: readonly number[]) {
  return { domain: [Math.min(...quorums) - 0.3, Math.max(...quorums) + 0.3], nice: false };
}

type Encoding = ReturnType<typeof seriesEncoding>;

/** One line per series against the quorum: `y` names the field of `rows` drawn and its axis. */
function quorumPanel(
  title: string,
  rows: readonly ({ quorum: number; series: string } & Record<string, number | string>)[],
  y: { field: string; title: string; scale?: { zero: boolean } },
  scale: ReturnType<typeof quorumScale>,
  series: Encoding,
) {
  return {
    title,
    width: panelWidth,
    height: panelHeight,
    data: { values: rows },
    mark: { type: "line", point: true, strokeWidth: 2 },
    encoding: { x: { ...quorumAxis, scale }, y: { ...y, type: "quantitative" }, ...series },
  } as const;
}

const latencyAxis = { field: "latencyMs", title: "latency (ms)" };
const throughputAxis = { field: "throughput", title: "committed writes/s", scale: { zero: true } };

export function sweepChartSpec(report: SweepReport): TopLevelSpec {
  const w = report.workload;
  const scale = quorumScale(report.results.map((r) => r.quorum));
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: "quorumkv: write quorum vs latency and throughput",
      subtitle:
        `${w.writes} writes per quorum, ${w.concurrency} clients, ${w.keys} keys, ${w.followers} followers, ` +
        `delay U(${w.minDelayMs}, ${w.maxDelayMs}) ms; dashed = the design's bounds (§6), zero-cost replication`,
      anchor: "start",
      fontSize: 18,
      subtitleFontSize: 13,
    },
    columns: 2,
    spacing: 40,
    // Each panel has its own series: without this, vega-lite merges their colours into one scale.
    resolve: { scale: { color: "independent", strokeDash: "independent" } },
    concat: [
      quorumPanel(
        "Latency vs quorum",
        latencyRows(report),
        latencyAxis,
        scale,
        seriesEncoding(latencySeries, ["#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e"], [solid, solid, solid, dashed, dashed]),
      ),
      quorumPanel(
        "Throughput vs quorum",
        throughputRows(report),
        throughputAxis,
        scale,
        seriesEncoding(throughputSeries, ["#1f77b4", "#ff7f0e"], [solid, dashed]),
      ),
      {
        title: "Latency distribution per quorum (successful writes, up to p99)",
        width: panelWidth,
        height: panelHeight,
        data: { values: distributionRows(report) },
        mark: { type: "line", strokeWidth: 2 },
        encoding: {
          x: { field: "latencyMs", type: "quantitative", title: "latency (ms)" },
          y: { field: "percentile", type: "quantitative", title: "percentile of writes", scale: { domain: [0, 100] } },
          color: { field: "quorum", type: "ordinal", title: null, scale: { scheme: "tableau10" } },
        },
      },
      {
        title: "Success rate",
        width: panelWidth,
        height: panelHeight,
        data: { values: report.results.map((r) => ({ quorum: String(r.quorum), successPercent: r.successRate * 100 })) },
        encoding: {
          x: { field: "quorum", type: "ordinal", title: "write quorum", axis: { labelAngle: 0 } },
          y: { field: "successPercent", type: "quantitative", title: "writes answered 200 (%)", scale: { domain: [0, 100] } },
        },
        layer: [
          { mark: { type: "bar", color: "#4c78a8", width: { band: 0.6 } } },
          {
            // Inside the bar's top: a full bar leaves no room above it.
            mark: { type: "text", baseline: "top", dy: 6, fontSize: 13, color: "white", fontWeight: "bold" },
            // "~" drops trailing zeros: 100 and 99.43, never a rounded-up 100.00.
            encoding: { text: { field: "successPercent", type: "quantitative", format: ".2~f" } },
          },
        ],
      },
    ],
    config: chartConfig,
  };
}

/** A sweep's storage for a legend: SYNC=fsync, or memory (reports from before DATA_DIR existed are memory). */
const storageLabel = (report: SweepReport) => (report.workload.storage && report.workload.storage !== "memory" ? `SYNC=${report.workload.storage}` : "memory");

const latencyBound = latencySeries.at(-1)!;
const throughputBound = throughputSeries.at(-1)!;

/** Series in their order, coloured from `palette`, solid; `bound` (last) orange and dashed. */
function withDashedBound(names: readonly string[], bound: string, palette: readonly string[]) {
  const domain = [...new Set(names)].filter((name) => name !== bound);
  return seriesEncoding([...domain, bound], [...domain.map((_, index) => palette[index % palette.length]!), "#ff7f0e"], [...domain.map(() => solid), dashed]);
}

/**
 * Sweeps of the same workload on different storage side by side (`bun run plot --compare`): p50
 * and p95 latency, and throughput, per quorum for each, with the ordered-log bound of the first.
 */
export function storageComparisonSpec(reports: readonly SweepReport[]): TopLevelSpec {
  const scale = quorumScale(reports.flatMap((report) => report.results.map((r) => r.quorum)));
  const bound = reports[0]!.results.filter((r) => r.bound);
  const latency = [
    ...reports.flatMap((report) =>
      report.results.flatMap((r) => [
        { quorum: r.quorum, series: `p50, ${storageLabel(report)}`, latencyMs: r.latencyMs.p50 },
        { quorum: r.quorum, series: `p95, ${storageLabel(report)}`, latencyMs: r.latencyMs.p95 },
      ]),
    ),
    ...bound.map((r) => ({ quorum: r.quorum, series: latencyBound, latencyMs: r.bound!.medianMs })),
  ];
  const throughput = [
    ...reports.flatMap((report) => report.results.map((r) => ({ quorum: r.quorum, series: storageLabel(report), throughput: r.throughput }))),
    ...bound.map((r) => ({ quorum: r.quorum, series: throughputBound, throughput: r.bound!.throughput })),
  ];
  const w = reports[0]!.workload;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: `quorumkv: ${reports.map(storageLabel).join(" vs ")}, the same quorum sweep`,
      subtitle: `${w.writes} writes per quorum, ${w.concurrency} clients, ${w.followers} followers, delay U(${w.minDelayMs}, ${w.maxDelayMs}) ms; dashed = the ordered-log bound`,
      anchor: "start",
      fontSize: 18,
      subtitleFontSize: 13,
    },
    spacing: 40,
    resolve: { scale: { color: "independent", strokeDash: "independent" } },
    hconcat: [
      quorumPanel(
        "Latency vs quorum",
        latency,
        latencyAxis,
        scale,
        withDashedBound(
          latency.map((row) => row.series),
          latencyBound,
          ["#1f77b4", "#aec7e8", "#d62728", "#ff9896", "#2ca02c", "#98df8a"],
        ),
      ),
      quorumPanel(
        "Throughput vs quorum",
        throughput,
        throughputAxis,
        scale,
        withDashedBound(
          throughput.map((row) => row.series),
          throughputBound,
          ["#1f77b4", "#d62728", "#2ca02c"],
        ),
      ),
    ],
    config: chartConfig,
  };
}

export function renderSweepCharts(report: SweepReport): Promise<{ svg: string; png: Uint8Array }> {
  return renderChart(sweepChartSpec(report));
}

/** A vega-lite spec as SVG, and as PNG at twice its size (the failover figure uses it too). */
export async function renderChart(spec: TopLevelSpec): Promise<{ svg: string; png: Uint8Array }> {
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  const width = Number(/<svg[^>]*\bwidth="([\d.]+)"/.exec(svg)?.[1] ?? 1000);
  const png = new Resvg(svg, {
    fitTo: { mode: "width", value: Math.round(width * pngScale) },
    font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
  })
    .render()
    .asPng();
  return { svg, png };
}

if (import.meta.main) {
  const flags = parseToolFlags(
    "plot",
    `Usage: bun run plot [--dir DIR] [--compare DIR2]

Re-draws quorum-sweep.svg and quorum-sweep.png from the quorum-sweep.json a sweep saved in DIR.
With --compare, also draws storage-comparison.svg and .png in DIR: DIR's sweep beside DIR2's
(e.g. \`bun run sweep --out-dir results\` and \`bun run sweep --sync fsync --out-dir results/fsync\`).`,
    {
      dir: { type: "string", default: sweepOutDirDefault, help: "the sweep's folder (results for the committed figures)" },
      compare: { type: "string", help: "another sweep's folder, drawn beside this one (storage-comparison.svg/.png)" },
    },
  );
  const readReport = (dir: string): SweepReport => {
    const path = join(dir, "quorum-sweep.json");
    if (!existsSync(path)) {
      console.error(`plot: no ${path}; run \`bun run sweep\` first, or pass --dir results for the committed figures`);
      process.exit(2);
    }
    return JSON.parse(readFileSync(path, "utf8")) as SweepReport;
  };
  const report = readReport(flags.dir);
  const write = async (name: string, chart: { svg: string; png: Uint8Array }) => {
    const base = join(flags.dir, name);
    await Bun.write(`${base}.svg`, chart.svg);
    await Bun.write(`${base}.png`, chart.png);
    console.log(`wrote ${base}.svg, ${base}.png`);
  };
  await write("quorum-sweep", await renderSweepCharts(report));
  if (flags.compare !== undefined) await write("storage-comparison", await renderChart(storageComparisonSpec([report, readReport(flags.compare)])));
}
