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

export function sweepChartSpec(report: SweepReport): TopLevelSpec {
  const w = report.workload;
  const quorums = report.results.map((r) => r.quorum);
  const quorumScale = { domain: [Math.min(...quorums) - 0.3, Math.max(...quorums) + 0.3], nice: false };
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
      {
        title: "Latency vs quorum",
        width: panelWidth,
        height: panelHeight,
        data: { values: latencyRows(report) },
        mark: { type: "line", point: true, strokeWidth: 2 },
        encoding: {
          x: { ...quorumAxis, scale: quorumScale },
          y: { field: "latencyMs", type: "quantitative", title: "latency (ms)" },
          ...seriesEncoding(latencySeries, ["#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e"], [solid, solid, solid, dashed, dashed]),
        },
      },
      {
        title: "Throughput vs quorum",
        width: panelWidth,
        height: panelHeight,
        data: { values: throughputRows(report) },
        mark: { type: "line", point: true, strokeWidth: 2 },
        encoding: {
          x: { ...quorumAxis, scale: quorumScale },
          y: { field: "throughput", type: "quantitative", title: "committed writes/s", scale: { zero: true } },
          ...seriesEncoding(throughputSeries, ["#1f77b4", "#ff7f0e"], [solid, dashed]),
        },
      },
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
    config: {
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
    },
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
    `Usage: bun run plot [--dir DIR]

Re-draws quorum-sweep.svg and quorum-sweep.png from the quorum-sweep.json a sweep saved in DIR.`,
    { dir: { type: "string", default: sweepOutDirDefault, help: "the sweep's folder (results for the committed figures)" } },
  );
  const path = join(flags.dir, "quorum-sweep.json");
  if (!existsSync(path)) {
    console.error(`plot: no ${path}; run \`bun run sweep\` first, or pass --dir results for the committed figures`);
    process.exit(2);
  }
  const report = JSON.parse(readFileSync(path, "utf8")) as SweepReport;
  const { svg, png } = await renderSweepCharts(report);
  const base = path.replace(/\.json$/, "");
  await Bun.write(`${base}.svg`, svg);
  await Bun.write(`${base}.png`, png);
  console.log(`wrote ${base}.svg, ${base}.png`);
}
