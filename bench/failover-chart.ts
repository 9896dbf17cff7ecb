import type { TopLevelSpec } from "vega-lite";
import { renderChart } from "../tools/plot.ts";
import type { SweepReport } from "../tools/sweep.ts";
import type { FailoverReport } from "./failover.ts";

/**
 * The failover figure: per write quorum, every kill's unavailability window and their median,
 * beside the median write latency of the quorum sweep (results/quorum-sweep.json) when there is
 * one: the price of W paid in every write next to the one paid once per failover. Drawn by
 * tools/plot.ts: vega-lite → vega → SVG, and @resvg/resvg-js for the PNG.
 */

const panelWidth = 420;
const panelHeight = 260;
const fontFamily = "DejaVu Sans, Liberation Sans, Arial, sans-serif";
const quorumAxis = { field: "writeQuorum", type: "quantitative", title: "write quorum W", axis: { tickMinStep: 1, format: "d" } } as const;

export function failoverChartSpec(report: FailoverReport, sweep: SweepReport | null): TopLevelSpec {
  // One axis for both panels: the quorums of either run.
  const quorums = [...report.results.map((r) => r.writeQuorum), ...(sweep?.results ?? []).map((r) => r.quorum)];
  const scale = { domain: [Math.min(...quorums) - 0.3, Math.max(...quorums) + 0.3], nice: false };
  const kills = report.results.flatMap((r) => r.windowMs.all.map((windowMs) => ({ writeQuorum: r.writeQuorum, windowMs })));
  const medians = report.results.filter((r) => r.windowMs.all.length > 0).map((r) => ({ writeQuorum: r.writeQuorum, windowMs: r.windowMs.p50 }));
  const windowPanel = {
    title: "window per kill -9: last ack (old leader) → first ack (new)",
    width: panelWidth,
    height: panelHeight,
    layer: [
      {
        data: { values: kills },
        mark: { type: "point", filled: true, opacity: 0.5, size: 50, color: "#4c78a8" },
        encoding: { x: { ...quorumAxis, scale }, y: { field: "windowMs", type: "quantitative", title: "unavailability window, ms" } },
      },
      {
        data: { values: medians },
        mark: { type: "line", point: true, color: "#e45756", strokeWidth: 2.5 },
        encoding: { x: { ...quorumAxis, scale }, y: { field: "windowMs", type: "quantitative" } },
      },
    ],
  };
  const latency = (sweep?.results ?? []).map((r) => ({ writeQuorum: r.quorum, latencyMs: r.latencyMs.p50 }));
  const latencyPanel = {
    title: sweep ? "median write latency (quorum sweep)" : "median write latency: no results/quorum-sweep.json",
    width: panelWidth,
    height: panelHeight,
    data: { values: latency },
    mark: { type: "line", point: true, color: "#54a24b", strokeWidth: 2.5 },
    encoding: { x: { ...quorumAxis, scale }, y: { field: "latencyMs", type: "quantitative", title: "p50 latency, ms" } },
  };
  const w = report.workload;
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: "quorumkv: failover window vs write latency, per write quorum",
      subtitle:
        `${w.nodes} nodes, ${w.concurrency} clients, ${w.killsPerQuorum} kills per W, SYNC=${w.sync}; ` +
        `red = median window; acknowledged writes lost: ${report.results.map((r) => `W${r.writeQuorum} ${r.lostWrites ?? "not audited"}`).join(", ")}`,
      anchor: "start",
      fontSize: 18,
      subtitleFontSize: 13,
    },
    hconcat: [windowPanel, latencyPanel],
    background: "white",
    padding: 16,
    config: { font: fontFamily, title: { fontSize: 14 }, axis: { labelFontSize: 12, titleFontSize: 12 } },
  } as TopLevelSpec;
}

export function renderFailoverChart(report: FailoverReport, sweep: SweepReport | null): Promise<{ svg: string; png: Uint8Array }> {
  return renderChart(failoverChartSpec(report, sweep));
}
