// The dashboard's script: polls /dashboard/cluster.json of the node that served the page (which
// asks the other nodes, see src/http/dashboard/cluster-view.ts) and draws it. No framework.
"use strict";

const pollMs = 500;
const requestTimeoutMs = 3000;
const windowMs = 60_000;
/** Write counter samples of the leader over the last minute: {atMs, committed, cumulative}. */
let samples = [];
let leaderKey = null;

const $ = (id) => document.getElementById(id);
const svgNs = "http://www.w3.org/2000/svg";

function el(tag, attributes = {}, ...children) {
  const node = tag.startsWith("svg:") ? document.createElementNS(svgNs, tag.slice(4)) : document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

const figure = (label, value, field) => el("div", { class: "figure", "data-figure": field }, el("b", {}, value), el("span", {}, label));
const formatMs = (seconds) =>
  seconds === null
    ? "–"
    : seconds === Number.POSITIVE_INFINITY
      ? "> 10 s"
      : seconds < 0.001
        ? `${(seconds * 1e6).toFixed(0)} µs`
        : `${(seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1)} ms`;
const show = (value) => (value === undefined || value === null ? "–" : String(value));

/** The q-quantile of a histogram of counts between two samples, interpolated within its bucket (as Prometheus does). */
function quantile(q, bounds, deltas) {
  const total = deltas.at(-1);
  if (!total) return null;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (deltas[i] >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1];
      const below = i === 0 ? 0 : deltas[i - 1];
      const inBucket = deltas[i] - below;
      return inBucket === 0 ? lower : lower + ((bounds[i] - lower) * (rank - below)) / inBucket;
    }
  }
  return Number.POSITIVE_INFINITY;
}

function recordWrites(leader, atMs) {
  const writes = leader?.report?.writes;
  if (!writes) return null;
  // A restarted leader starts its counters again: so does the window.
  const key = `${leader.id}@${leader.report.status.epoch}`;
  const last = samples.at(-1);
  if (key !== leaderKey || (last && writes.committed < last.committed)) samples = [];
  leaderKey = key;
  samples.push({ atMs, committed: writes.committed, cumulative: [...writes.cumulative, writes.committed] });
  while (samples.length > 2 && atMs - samples[0].atMs > windowMs) samples.shift();
  return writes;
}

function drawWrites(writes) {
  const box = $("writes");
  const rate = $("rate");
  rate.replaceChildren();
  if (!writes || samples.length < 2) {
    box.replaceChildren(el("span", { class: "empty" }, writes ? "measuring…" : "no leader reachable"));
    return;
  }
  const first = samples[0];
  const last = samples.at(-1);
  const seconds = (last.atMs - first.atMs) / 1000;
  const deltas = last.cumulative.map((count, i) => count - first.cumulative[i]);
  const bounds = writes.boundsSeconds;
  box.replaceChildren(
    figure("writes/s", (deltas.at(-1) / seconds).toFixed(deltas.at(-1) / seconds < 10 ? 1 : 0), "rate"),
    figure("p50", formatMs(quantile(0.5, bounds, deltas)), "p50"),
    figure("p90", formatMs(quantile(0.9, bounds, deltas)), "p90"),
    figure("p99", formatMs(quantile(0.99, bounds, deltas)), "p99"),
    figure(`committed (${Math.round(seconds)} s)`, deltas.at(-1), "committed"),
  );
  // Write rate between consecutive polls, over the window.
  const points = samples.slice(1).map((sample, i) => ({
    atMs: sample.atMs,
    perSecond: (sample.committed - samples[i].committed) / Math.max(0.001, (sample.atMs - samples[i].atMs) / 1000),
  }));
  const top = Math.max(1, ...points.map((p) => p.perSecond));
  const x = (atMs) => 40 + ((atMs - (last.atMs - windowMs)) / windowMs) * 375;
  const y = (value) => 95 - (value / top) * 85;
  rate.append(
    el("svg:line", { x1: 40, x2: 415, y1: 95, y2: 95, stroke: "#e3e6ec" }),
    el("svg:text", { x: 0, y: 14 }, `${top.toFixed(0)}/s`),
    el("svg:text", { x: 0, y: 98 }, "0"),
    el("svg:text", { x: 40, y: 108 }, "−60 s"),
    el("svg:text", { x: 395, y: 108 }, "now"),
    el("svg:polyline", {
      fill: "none",
      stroke: "#2f5fd0",
      "stroke-width": 1.5,
      points: points.map((p) => `${x(p.atMs).toFixed(1)},${y(p.perSecond).toFixed(1)}`).join(" "),
    }),
  );
}

function drawSummary(view) {
  const leader = view.nodes[0];
  const status = leader?.report?.status ?? {};
  const healthy = view.nodes.filter((n) => n.health === "healthy").length;
  $("summary").replaceChildren(
    figure("leader", leader?.report ? (leader.role === "leader" ? leader.id : `${leader.id} (${leader.role})`) : "down", "leader"),
    figure("epoch", show(status.epoch), "epoch"),
    figure("write quorum", show(status.writeQuorum), "writeQuorum"),
    figure("commit offset", show(status.commitOffset), "commitOffset"),
    figure("healthy nodes", `${healthy} / ${view.nodes.length}`, "healthy"),
  );
}

function drawNodes(view) {
  const leaderStatus = view.nodes[0]?.report?.status;
  const progress = new Map((leaderStatus?.followers ?? []).map((f) => [f.id, f]));
  const lags = [...progress.values()].map((f) => f.lag);
  const scale = Math.max(10, ...lags);
  const rows = view.nodes.map((node) => {
    const status = node.report?.status ?? {};
    const follower = progress.get(node.id);
    const lag = follower ? follower.lag : null;
    const lagCell =
      lag === null ? "–" : [el("span", { class: "lag" }, el("i", { style: `width:${Math.min(100, (lag / scale) * 100).toFixed(1)}%` })), String(lag)];
    const health = [el("span", { class: `badge ${node.health}` }, node.health === "down" ? "down" : node.health)];
    if (node.problem) health.push(el("div", { class: "problem" }, node.problem));
    const cells = [
      el("td", {}, `${node.id ?? node.url ?? "?"}${node.self ? " (this node)" : ""}`),
      el("td", { class: node.role === "leader" ? "role-leader" : "" }, node.role),
      el("td", { "data-field": "health" }, ...health),
      el("td", { class: "num", "data-field": "epoch" }, show(status.epoch)),
      el("td", { class: "num", "data-field": "lastOffset" }, show(status.lastOffset)),
      el("td", { class: "num", "data-field": "commitOffset" }, show(status.commitOffset)),
      el("td", { class: "num", "data-field": "appliedOffset" }, show(status.appliedOffset ?? status.commitOffset)),
      el("td", { "data-field": "lag" }, ...[lagCell].flat()),
      el("td", { class: "num", "data-field": "resyncs" }, follower ? `${follower.partialResyncs} / ${follower.fullResyncs}` : "–"),
      el("td", { class: "num" }, follower?.lastAckMsAgo === null || follower === undefined ? "–" : `${follower.lastAckMsAgo} ms`),
    ];
    return el("tr", { "data-node": node.id ?? node.url, "data-role": node.role, "data-health": node.health, class: node.health }, ...cells);
  });
  $("nodes").replaceChildren(...rows);
}

async function poll() {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), requestTimeoutMs);
  try {
    const response = await fetch("/dashboard/cluster.json", { signal: controller.signal, cache: "no-store" });
    if (!response.ok) throw new Error(`answered ${response.status}`);
    const view = await response.json();
    const atMs = performance.now();
    $("self").textContent = view.self;
    $("updated").textContent = new Date(view.generatedAt).toLocaleTimeString();
    $("banner").textContent = "";
    $("banner").className = "";
    drawSummary(view);
    drawNodes(view);
    drawWrites(recordWrites(view.nodes[0], atMs));
  } catch (error) {
    // The serving node itself is gone or slow: say so, keep the last picture, keep trying.
    $("banner").textContent = `this node does not answer (${error.name === "AbortError" ? "timeout" : error.message}); retrying`;
    $("banner").className = "bad";
  } finally {
    clearTimeout(timer);
    setTimeout(poll, pollMs);
  }
}

function drawSweep(sweep) {
  const results = sweep.results.filter((r) => r.latencyMs);
  const series = [
    { name: "p50", color: "#2f5fd0", value: (r) => r.latencyMs.p50 },
    { name: "p90", color: "#7c3aed", value: (r) => r.latencyMs.p90 },
    { name: "p99", color: "#d97706", value: (r) => r.latencyMs.p99 },
  ];
  const top = Math.max(...results.flatMap((r) => series.map((s) => s.value(r))));
  const quorums = results.map((r) => r.quorum);
  const x = (q) => 45 + ((q - Math.min(...quorums)) / Math.max(1, Math.max(...quorums) - Math.min(...quorums))) * 330;
  const y = (ms) => 150 - (ms / top) * 130;
  const svg = el("svg:svg", { width: "100%", height: 190, viewBox: "0 0 420 190", "data-chart": "sweep" });
  for (const fraction of [0, 0.5, 1]) {
    svg.append(
      el("svg:line", { x1: 45, x2: 375, y1: y(top * fraction), y2: y(top * fraction), stroke: "#e3e6ec" }),
      el("svg:text", { x: 0, y: y(top * fraction) + 4 }, `${(top * fraction).toFixed(1)} ms`),
    );
  }
  for (const q of quorums) svg.append(el("svg:text", { x: x(q) - 3, y: 166 }, q));
  svg.append(el("svg:text", { x: 170, y: 184 }, "write quorum"));
  series.forEach((s, i) => {
    svg.append(
      el("svg:polyline", {
        fill: "none",
        stroke: s.color,
        "stroke-width": 2,
        points: results.map((r) => `${x(r.quorum).toFixed(1)},${y(s.value(r)).toFixed(1)}`).join(" "),
      }),
    );
    for (const r of results) svg.append(el("svg:circle", { cx: x(r.quorum), cy: y(s.value(r)), r: 2.5, fill: s.color }));
    svg.append(el("svg:rect", { x: 385, y: 20 + i * 16, width: 10, height: 3, fill: s.color }), el("svg:text", { x: 398, y: 25 + i * 16 }, s.name));
  });
  const w = sweep.workload ?? {};
  $("sweep").replaceChildren(
    svg,
    el(
      "div",
      { class: "empty" },
      `${w.writes ?? "?"} writes × quorum, concurrency ${w.concurrency ?? "?"}, delay U(${w.minDelayMs}, ${w.maxDelayMs}) ms; ${new Date(sweep.generatedAt).toLocaleString()}`,
    ),
  );
}

async function loadSweep() {
  try {
    const response = await fetch("/dashboard/sweep.json");
    const body = await response.json();
    if (!response.ok) throw new Error(body.message);
    drawSweep(body);
  } catch (error) {
    $("sweep").replaceChildren(el("span", { class: "empty" }, `no sweep: ${error.message}`));
  }
}

poll();
loadSweep();
