import { parseToolFlags } from "../src/flags.ts";
import { median } from "../tools/lib/latency.ts";
import { withLocalCluster } from "../tools/lib/local-cluster.ts";
import { runClosedLoad } from "../tools/load.ts";
import { type FloorStorage, withFloorCluster } from "./lib/floor-cluster.ts";
import { cpuMeter } from "./lib/process-cpu.ts";

/**
 * quorumkv against the floor of its own architecture, alternating in one run: bench/lib/floor-node.ts
 * is a leader and five followers that do only what the design cannot avoid (Hono, a JSON frame
 * per batch over a WebSocket to every follower, an ack back, a quorum count, and with --sync fsync
 * one append + fdatasync per batch on every node). Both take the same closed-loop load at zero
 * delay; the CPU per write of each process comes from /proc, as in bench:cpu, split into user
 * space and kernel.
 */
const flags = parseToolFlags(
  "bench:floor",
  `Usage: bun run bench:floor [--rounds 3] [--writes 30000] [--concurrency 20] [--quorum 3] [--sync memory|write|fsync]

Per round, a local quorumkv cluster (1 leader + 5 followers, zero delay) and the skeleton of
bench/lib/floor-node.ts (the least this design can do: Hono, one JSON frame per batch over a
WebSocket to each follower, acks, a quorum count) take the same closed-loop writes, one after
the other, in alternating order. Prints µs of CPU per acknowledged write (servers; leader and each
follower, user + kernel; the part in JIT and GC threads; client) and writes/s of both, then the medians and quorumkv / floor.
With --sync fsync both store every batch and fdatasync it on every node (write: no fdatasync);
beside a run with --sync memory it gives the skeleton's fsync / memory on this machine.`,
  {
    rounds: { type: "number", default: 3, integer: true, min: 1, help: "rounds, each a fresh cluster of both kinds" },
    writes: { type: "number", default: 30_000, integer: true, min: 100, help: "measured writes per cluster" },
    warmupWrites: {
      type: "number",
      default: 30_000,
      integer: true,
      min: 0,
      help: "unmeasured writes first (JIT warm-up: after 5,000 the compiler still costs quorumkv 8–10 µs per write)",
    },
    concurrency: { type: "number", default: 20, integer: true, min: 1, help: "concurrent clients" },
    quorum: { type: "number", default: 3, integer: true, min: 0, max: 5, help: "followers that must hold a write before it is answered" },
    sync: {
      type: "string",
      default: "memory",
      choices: ["memory", "write", "fsync"],
      help: "memory, or every node appends each batch (fsync: and fdatasyncs it)",
    },
  },
);
const followers = 5;
const storage = flags.sync as FloorStorage;

interface Row {
  /** µs per write, user space and kernel, and the main thread's part: leader first, then each follower. */
  nodes: { user: number; system: number; mainThread: number }[];
  client: number;
  throughput: number;
}

/** Closed-loop writes against `leaderUrl` after a warm-up; CPU per acknowledged write of `pids` (leader first) and of this process. */
async function measure(leaderUrl: string, pids: number[]): Promise<Row> {
  const workload = { leaderUrl, keys: 100, concurrency: flags.concurrency };
  if (flags.warmupWrites > 0) await runClosedLoad({ ...workload, writes: flags.warmupWrites });
  const nodes = cpuMeter(pids);
  const clientBefore = process.cpuUsage();
  const summary = await runClosedLoad({ ...workload, writes: flags.writes });
  const client = process.cpuUsage(clientBefore);
  if (summary.succeeded !== flags.writes)
    throw new Error(`only ${summary.succeeded} of ${flags.writes} writes acknowledged: ${JSON.stringify(summary.errors)}`);
  return { nodes: nodes.splitPerOperation(summary.succeeded), client: (client.user + client.system) / summary.succeeded, throughput: summary.throughput };
}

function measureQuorumkv(): Promise<Row> {
  const options = { followers, writeQuorum: flags.quorum, minDelayMs: 0, maxDelayMs: 0, output: "ignore" as const };
  return withLocalCluster(
    options,
    (cluster) =>
      measure(
        cluster.leader.url,
        cluster.nodes.map((node) => node.pid!),
      ),
    flags.sync as "memory" | "write" | "fsync",
  );
}

function measureFloor(): Promise<Row> {
  return withFloorCluster({ followers, quorum: flags.quorum, storage }, (cluster) => measure(cluster.leaderUrl, cluster.pids));
}

const total = ({ user, system }: { user: number; system: number }) => user + system;
const figures = (rows: Row[]) => ({
  servers: median(rows.map((row) => row.nodes.reduce((sum, node) => sum + total(node), 0))),
  leaderUser: median(rows.map((row) => row.nodes[0]!.user)),
  leaderSystem: median(rows.map((row) => row.nodes[0]!.system)),
  followerUser: median(rows.flatMap((row) => row.nodes.slice(1).map((node) => node.user))),
  followerSystem: median(rows.flatMap((row) => row.nodes.slice(1).map((node) => node.system))),
  // Every thread but the one running JavaScript: the JIT compiler's, the garbage collector's.
  helpers: median(rows.map((row) => row.nodes.reduce((sum, node) => sum + total(node) - node.mainThread, 0))),
  client: median(rows.map((row) => row.client)),
  throughput: median(rows.map((row) => row.throughput)),
});
const describe = (f: ReturnType<typeof figures>) =>
  `servers ${f.servers.toFixed(1)} µs (leader ${f.leaderUser.toFixed(1)} + ${f.leaderSystem.toFixed(1)}, each follower ${f.followerUser.toFixed(1)} + ${f.followerSystem.toFixed(1)}: user + kernel; ${f.helpers.toFixed(1)} in JIT and GC threads), client ${f.client.toFixed(1)} µs per write; ${Math.round(f.throughput)} writes/s`;

const rows = { quorumkv: [] as Row[], floor: [] as Row[] };
for (let round = 1; round <= flags.rounds; round++) {
  // Alternate which goes first, so that neither always meets the machine in the same state.
  const order = round % 2 === 1 ? (["quorumkv", "floor"] as const) : (["floor", "quorumkv"] as const);
  for (const kind of order) {
    const row = kind === "quorumkv" ? await measureQuorumkv() : await measureFloor();
    rows[kind].push(row);
    console.log(`round ${round}, ${kind.padEnd(8)}: ${describe(figures([row]))}`);
  }
}
const ours = figures(rows.quorumkv);
const floor = figures(rows.floor);
console.log(`median quorumkv: ${describe(ours)}`);
console.log(`median floor   : ${describe(floor)}`);
console.log(
  `quorumkv / floor: servers' CPU per write ${(ours.servers / floor.servers).toFixed(2)}, writes/s ${(ours.throughput / floor.throughput).toFixed(2)} (--sync ${flags.sync})`,
);
