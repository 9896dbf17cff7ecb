import { resolve } from "node:path";
import { parseToolFlags } from "../src/flags.ts";

/**
 * Leader read throughput and latency: `clients` closed-loop clients GET one key from the leader of
 * a local cluster (5 followers, WRITE_QUORUM 3, no simulated delay) for `seconds`. With `--base
 * <dir>` (another checkout with node_modules, e.g. the code before ReadIndex) the runs alternate
 * between the two trees, a fresh cluster each, and the medians are compared: interleaving spreads
 * the machine's noise over both.
 */
const values = parseToolFlags(
  "reads",
  `Usage: bun run reads [--base DIR] [--rounds 5] [--seconds 5] [--clients 20]

Starts a local cluster (free ports) per run and reads one key from its leader with closed-loop
clients; prints reads/s and the latency median and p99 of each run, then the medians per tree.`,
  {
    base: { type: "string", help: "another tree to compare with (runs alternate)" },
    rounds: { type: "number", default: 5, integer: true, min: 1, help: "runs per tree" },
    seconds: { type: "number", default: 5, min: 0.5, help: "seconds of reads per run" },
    clients: { type: "number", default: 20, integer: true, min: 1, help: "concurrent clients" },
  },
);

interface Run {
  readsPerS: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

type StartCluster = typeof import("../src/cluster.ts").startCluster;

async function runOnce(tree: string): Promise<Run> {
  const { startCluster } = (await import(resolve(tree, "src/cluster.ts"))) as { startCluster: StartCluster };
  const cluster = await startCluster({ followers: 5, writeQuorum: 3, minDelayMs: 0, maxDelayMs: 0 });
  try {
    const url = `${cluster.leader.url}/kv/bench`;
    const put = await fetch(url, { method: "PUT", headers: { "content-type": "application/json" }, body: '{"value":1}' });
    if (put.status !== 200) throw new Error(`the first write answered ${put.status}`);
    const latenciesMs: number[] = [];
    let errors = 0;
    const endMs = performance.now() + values.seconds * 1000;
    await Promise.all(
      Array.from({ length: values.clients }, async () => {
        while (performance.now() < endMs) {
          const startedMs = performance.now();
          const response = await fetch(url);
          await response.text();
          if (response.status === 200) latenciesMs.push(performance.now() - startedMs);
          else errors++;
        }
      }),
    );
    latenciesMs.sort((a, b) => a - b);
    const at = (q: number) => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(q * latenciesMs.length))] ?? Number.NaN;
    return { readsPerS: latenciesMs.length / values.seconds, p50Ms: at(0.5), p99Ms: at(0.99), errors };
  } finally {
    await cluster.stop();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const here = resolve(import.meta.dir, "..");
const trees = values.base ? [resolve(values.base), here] : [here];
const runs = new Map<string, Run[]>(trees.map((tree) => [tree, []]));
for (let round = 1; round <= values.rounds; round++) {
  for (const tree of trees) {
    const run = await runOnce(tree);
    runs.get(tree)!.push(run);
    console.log(
      `round ${round} ${tree}: ${run.readsPerS.toFixed(0)} reads/s, p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms, errors ${run.errors}`,
    );
  }
}
console.log(`\nmedians of ${values.rounds} runs, ${values.clients} clients, ${values.seconds} s each:`);
for (const [tree, list] of runs) {
  const f = (pick: (run: Run) => number, digits: number) => median(list.map(pick)).toFixed(digits);
  console.log(
    `  ${tree}: ${f((r) => r.readsPerS, 0)} reads/s, p50 ${f((r) => r.p50Ms, 2)} ms, p99 ${f((r) => r.p99Ms, 2)} ms, errors ${f((r) => r.errors, 0)}`,
  );
}
