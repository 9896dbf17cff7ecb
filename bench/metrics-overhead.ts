import { parseToolFlags } from "../src/flags.ts";
import { withLocalCluster } from "../tools/lib/local-cluster.ts";
import { runClosedLoad } from "../tools/load.ts";

/**
 * Whether scraping moves throughput: zero-delay closed-model writes against one local cluster, in
 * pairs of rounds, one without and one with a scraper process fetching /metrics of every node
 * every --scrape-ms (as a Prometheus server would, from a process of its own; started once and
 * turned on and off, so its start-up is in no round), the order alternating
 * (ABBA) so that drift hits both alike. `--path /health` scrapes a route that renders nothing: the
 * cost of a request alone. On a shared machine single rounds vary far
 * more than the effect, so each pair gives a ratio and the median ratio is the figure
 * (BENCHMARKS.md, "Metrics overhead").
 */
const flags = parseToolFlags(
  "metrics-overhead",
  `Usage: bun run metrics-overhead [flags]

Zero-delay write throughput with and without a /metrics scrape of every node every --scrape-ms,
in alternating rounds against one local cluster on free ports (stopped afterwards). Prints each
pair of rounds, the median ratio, and what one scrape costs the leader in CPU.`,
  {
    pairs: { type: "number", default: 10, integer: true, min: 1, max: 1000, help: "pairs of rounds (one without, one with the scraper)" },
    writes: { type: "number", default: 5000, integer: true, min: 100, max: 10_000_000, help: "writes per round" },
    concurrency: { type: "number", default: 20, integer: true, min: 1, max: 10_000, help: "concurrent clients" },
    scrapeMs: { type: "number", default: 100, min: 1, max: 60_000, help: "interval between scrapes of every node" },
    path: { type: "string", default: "/metrics", help: "what the scraper fetches of each node" },
    followers: { type: "number", default: 5, integer: true, min: 1, max: 10, help: "followers" },
  },
);

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const percent = (ratio: number) => `${((ratio - 1) * 100).toFixed(1)} %`;

/**
 * A process that scrapes every URL each `intervalMs` while on ("on"/"off" lines on its stdin; a
 * stopped process would be simpler, but one in an orphaned process group is sent SIGHUP).
 * Resolves once it has scraped once, and leaves it off.
 */
async function startScraper(urls: string[], intervalMs: number): Promise<{ on(): void; off(): void; kill(): Promise<void> }> {
  const script = `
    const urls = ${JSON.stringify(urls)};
    let on = true;
    process.stdin.on("data", (data) => { on = String(data).trim().split("\\n").at(-1) === "on"; });
    for (let first = true; ; first = false) {
      const nextMs = performance.now() + ${intervalMs};
      if (on) await Promise.all(urls.map(async (url) => { const r = await fetch(url); if (!r.ok) throw new Error(url + " answered " + r.status); await r.text(); }));
      if (first) { on = false; console.log("scraping"); }
      await Bun.sleep(Math.max(0, nextMs - performance.now()));
    }`;
  const child = Bun.spawn([process.execPath, "-e", script], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const reader = child.stdout.getReader();
  const { value } = await reader.read();
  if (!new TextDecoder().decode(value).includes("scraping")) throw new Error("the scraper did not start");
  reader.releaseLock();
  const say = (line: string) => {
    child.stdin.write(`${line}\n`);
    child.stdin.flush();
  };
  return {
    on: () => say("on"),
    off: () => say("off"),
    kill: async () => {
      child.kill("SIGKILL");
      await child.exited;
    },
  };
}

await withLocalCluster({ followers: flags.followers, minDelayMs: 0, maxDelayMs: 0 }, async (cluster) => {
  const urls = cluster.nodes.map((node) => `${node.url}/metrics`);
  const scraper = await startScraper(
    cluster.nodes.map((node) => `${node.url}${flags.path}`),
    flags.scrapeMs,
  );
  const load = async () => {
    const summary = await runClosedLoad({ leaderUrl: cluster.leader.url, writes: flags.writes, concurrency: flags.concurrency, keys: 100 });
    if (summary.failed > 0) throw new Error(`${summary.failed} writes failed: ${JSON.stringify(summary.errors)}`);
    return summary.throughput;
  };
  const scraped = async () => {
    scraper.on();
    try {
      return await load();
    } finally {
      scraper.off();
    }
  };
  // Warm-up: the first writes of a process run before the JIT has compiled the hot path.
  await load();
  const none: number[] = [];
  const scrape: number[] = [];
  const ratios: number[] = [];
  for (let pair = 0; pair < flags.pairs; pair++) {
    const scrapeFirst = pair % 2 === 1;
    const first = scrapeFirst ? await scraped() : await load();
    const second = scrapeFirst ? await load() : await scraped();
    const [without, withScraper] = scrapeFirst ? [second, first] : [first, second];
    none.push(without);
    scrape.push(withScraper);
    ratios.push(withScraper / without);
    console.log(
      `pair ${pair + 1}: without ${without.toFixed(0)} writes/s, with scraper ${withScraper.toFixed(0)} writes/s (${percent(withScraper / without)})`,
    );
  }
  const mean = ratios.reduce((sum, ratio) => sum + ratio, 0) / ratios.length;
  const standardError = Math.sqrt(ratios.reduce((sum, ratio) => sum + (ratio - mean) ** 2, 0) / Math.max(1, ratios.length - 1) / ratios.length);
  console.log(
    `\nmedians: without ${median(none).toFixed(0)} writes/s, with a scrape of ${flags.path} on ${urls.length} nodes every ${flags.scrapeMs} ms ${median(scrape).toFixed(0)} writes/s; ` +
      `pair ratio: median ${percent(median(ratios))}, middle half ${percent(quantile(ratios, 0.25))} to ${percent(quantile(ratios, 0.75))}, ` +
      `mean ${percent(mean)} ± ${(standardError * 100).toFixed(1)} % (standard error)`,
  );

  await scraper.kill();

  // What one scrape costs the leader, read from its own CPU counter: far steadier than throughput
  // on a shared machine.
  const cpuSeconds = async () => Number(/^process_cpu_seconds_total (\S+)$/m.exec(await (await fetch(urls[0]!)).text())![1]);
  const idleBefore = await cpuSeconds();
  await Bun.sleep(1000);
  const idlePerSecond = (await cpuSeconds()) - idleBefore;
  const serial = 2000;
  const before = await cpuSeconds();
  const startedMs = performance.now();
  for (let i = 0; i < serial; i++) await (await fetch(urls[0]!)).text();
  const elapsedSeconds = (performance.now() - startedMs) / 1000;
  const perScrapeUs = (((await cpuSeconds()) - before - idlePerSecond * elapsedSeconds) / serial) * 1e6;
  const bytes = (await (await fetch(urls[0]!)).text()).length;
  console.log(
    `leader: ${bytes} bytes and ${perScrapeUs.toFixed(0)} µs of CPU per scrape (request included); every ${flags.scrapeMs} ms that is ${((perScrapeUs / 1e6 / (flags.scrapeMs / 1000)) * 100).toFixed(2)} % of one core`,
  );
});
