import { parseToolFlags } from "../src/flags.ts";
import { type ToolStorage, toolStorageChoices, withLocalCluster } from "../tools/lib/local-cluster.ts";
import { median } from "../tools/lib/latency.ts";
import { type Family, parsePrometheusText } from "../tools/lib/prometheus-text.ts";
import { runClosedLoad } from "../tools/load.ts";
import { cpuMeter } from "./lib/process-cpu.ts";

/**
 * CPU per acknowledged write of each process, read from /proc (steadier than writes/s on a shared
 * machine): a local cluster with zero simulated delay, a warm-up, then closed-loop writes from
 * this process; each node's utime + stime over the measured writes, divided by the writes
 * acknowledged. Rounds are separate clusters; the medians are printed last.
 */
const flags = parseToolFlags(
  "bench:cpu",
  `Usage: bun run bench:cpu [--rounds 3] [--writes 40000] [--concurrency 20] [--followers 5] [--quorum 3] [--sync memory|fsync|write|none] [--profile-dir DIR]

Starts a local cluster (1 leader + 5 followers, free ports, no simulated delay) per round and
prints µs of CPU per acknowledged write for the leader, each follower (and how much of the
servers' went to JIT and GC threads) and this client, then
the entries per message the leader sent (its batch size) and, with --sync fsync, each node's
fdatasyncs per write, their mean duration and the share of the run spent in them (from /metrics).
With --profile-dir each node also writes Bun's CPU profile there (the profiler costs CPU too, so
the figures of that run are higher): rank its .md by samples, as its time column also counts idle gaps.`,
  {
    rounds: { type: "number", default: 3, integer: true, min: 1, help: "rounds, a fresh cluster each" },
    writes: { type: "number", default: 40_000, integer: true, min: 100, help: "measured writes per round" },
    warmupWrites: {
      type: "number",
      default: 30_000,
      integer: true,
      min: 0,
      help: "unmeasured writes first (JIT warm-up: after 5,000 the compiler still costs 8–10 µs per write)",
    },
    concurrency: { type: "number", default: 20, integer: true, min: 1, help: "concurrent clients" },
    followers: { type: "number", default: 5, integer: true, min: 1, max: 5, help: "followers (1 with --quorum 0: the leader's HTTP path nearly alone)" },
    quorum: { type: "number", default: 3, integer: true, min: 0, max: 5, help: "WRITE_QUORUM (at most --followers)" },
    sync: { type: "string", default: "memory", choices: toolStorageChoices, help: "the nodes' storage: memory, or DATA_DIR with SYNC=fsync|write|none" },
    profileDir: { type: "string", help: "write each node's Bun CPU profile (.cpuprofile and .md, 200 µs samples) to this folder" },
  },
);

if (flags.quorum > flags.followers) {
  console.error(`bench:cpu: --quorum ${flags.quorum} is more than --followers ${flags.followers}`);
  process.exit(2);
}

/** The sum of a family's samples named `sample` (the family's own name unless given) over every label set; 0 when absent. */
function sum(families: Map<string, Family>, family: string, sample = family): number {
  return (families.get(family)?.samples ?? []).filter((each) => each.name === sample).reduce((total, each) => total + each.value, 0);
}

/** Replication counters of the cluster, each node's /metrics read once: what the leader sent its followers, and each node's fdatasyncs of the log (count, seconds). */
async function counters(nodeUrls: string[]) {
  const nodes = await Promise.all(nodeUrls.map(async (url) => parsePrometheusText(await (await fetch(`${url}/metrics`)).text())));
  const syncs = "quorumkv_storage_sync_duration_seconds";
  return {
    messages: sum(nodes[0]!, "quorumkv_follower_messages_sent_total"),
    entries: sum(nodes[0]!, "quorumkv_follower_entries_sent_total"),
    syncs: nodes.map((families) => sum(families, syncs, `${syncs}_count`)),
    syncSeconds: nodes.map((families) => sum(families, syncs, `${syncs}_sum`)),
  };
}

const rows: { leader: number; followers: number[]; client: number; throughput: number }[] = [];
for (let round = 1; round <= flags.rounds; round++) {
  // Bun reads BUN_OPTIONS as extra command-line flags: each node writes its profile when it stops.
  const env = flags.profileDir ? { BUN_OPTIONS: `--cpu-prof --cpu-prof-md --cpu-prof-interval=200 --cpu-prof-dir=${flags.profileDir}` } : undefined;
  const options = {
    followers: flags.followers,
    writeQuorum: flags.quorum,
    minDelayMs: 0,
    maxDelayMs: 0,
    output: "ignore" as const,
    env,
  };
  await withLocalCluster(
    options,
    async (cluster) => {
      const workload = { leaderUrl: cluster.leader.url, keys: 100, concurrency: flags.concurrency };
      if (flags.warmupWrites > 0) await runClosedLoad({ ...workload, writes: flags.warmupWrites });
      const nodeUrls = cluster.nodes.map((node) => node.url);
      const countersBefore = await counters(nodeUrls);
      const nodes = cpuMeter(cluster.nodes.map((node) => node.pid!));
      const clientBefore = process.cpuUsage();
      const summary = await runClosedLoad({ ...workload, writes: flags.writes });
      const client = process.cpuUsage(clientBefore);
      const split = nodes.splitPerOperation(summary.succeeded);
      const perWrite = split.map(({ user, system }) => user + system);
      // Every thread but the one running JavaScript: the JIT compiler's and the garbage collector's.
      const helpers = split.reduce((sum, node) => sum + node.user + node.system - node.mainThread, 0);
      const countersAfter = await counters(nodeUrls);
      const row = {
        leader: perWrite[0]!,
        followers: perWrite.slice(1),
        client: (client.user + client.system) / summary.succeeded,
        throughput: summary.throughput,
      };
      rows.push(row);
      const followers = row.followers.map((us) => us.toFixed(1)).join(" ");
      const servers = row.leader + row.followers.reduce((sum, us) => sum + us, 0);
      console.log(
        `round ${round}: leader ${row.leader.toFixed(1)} µs, followers ${followers} µs (servers ${servers.toFixed(1)}, of which ${helpers.toFixed(1)} in JIT and GC threads), client ${row.client.toFixed(1)} µs per write; ${Math.round(row.throughput)} writes/s`,
      );
      const entriesPerMessage = (countersAfter.entries - countersBefore.entries) / Math.max(1, countersAfter.messages - countersBefore.messages);
      const syncsPerWrite = countersAfter.syncs.map((after, i) => ((after - countersBefore.syncs[i]!) / summary.succeeded).toFixed(3));
      console.log(
        `  ${entriesPerMessage.toFixed(1)} entries per message to a follower${flags.sync === "fsync" ? `; fdatasyncs per write: leader ${syncsPerWrite[0]}, followers ${syncsPerWrite.slice(1).join(" ")}` : ""}`,
      );
      if (flags.sync === "fsync") {
        // The fdatasync runs in the event loop: its time is time the node serves nothing.
        const seconds = countersAfter.syncSeconds.map((after, i) => after - countersBefore.syncSeconds[i]!);
        const meanMs = seconds.map((total, i) => ((1000 * total) / Math.max(1, countersAfter.syncs[i]! - countersBefore.syncs[i]!)).toFixed(2));
        const share = seconds.map((total) => `${Math.round((100 * total * summary.throughput) / summary.succeeded)} %`);
        console.log(`  fdatasync: mean ms leader ${meanMs[0]}, followers ${meanMs.slice(1).join(" ")}; share of the run in it: ${share.join(" ")}`);
      }
    },
    flags.sync as ToolStorage,
  );
}
const followerMedian = median(rows.flatMap((row) => row.followers));
const serversMedian = median(rows.map((row) => row.leader + row.followers.reduce((sum, us) => sum + us, 0)));
console.log(
  `median: servers ${serversMedian.toFixed(1)} µs, leader ${median(rows.map((r) => r.leader)).toFixed(1)} µs, each follower ${followerMedian.toFixed(1)} µs, client ${median(rows.map((r) => r.client)).toFixed(1)} µs per write; ${Math.round(median(rows.map((r) => r.throughput)))} writes/s`,
);
