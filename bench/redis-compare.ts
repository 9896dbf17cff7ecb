import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RedisClient, type Subprocess } from "bun";
import { freePort } from "../src/cluster.ts";
import { parseToolFlags } from "../src/flags.ts";
import { LatencyRecorder, type LatencyStatsMs, median } from "../tools/lib/latency.ts";
import { type ToolStorage, toolStorageChoices, withLocalCluster } from "../tools/lib/local-cluster.ts";
import { runClosedLoad } from "../tools/load.ts";
import { withFloorCluster } from "./lib/floor-cluster.ts";
import { cpuMeter, ownCpuMicroseconds } from "./lib/process-cpu.ts";

/**
 * Redis semi-sync beside quorumkv, in one run: a Redis primary with 5 replicas where every client
 * does `SET key-<i%K> value-<i>` then `WAIT <quorum> 0` (block until that many replicas have it),
 * and a local quorumkv cluster (5 followers, the same quorum, no simulated delay) under the same
 * closed-loop workload. Rounds alternate between the two; medians and their ratio are printed,
 * with the CPU per acknowledged write (from /proc) of each system's servers summed and of the client.
 * With `--sync fsync` every Redis process keeps an append-only file with `appendfsync always`:
 * a primary then fsyncs before it answers, and a replica before it acknowledges (its ack is sent
 * after the AOF flush of the same event-loop turn), the durability quorumkv's SYNC=fsync gives.
 */

const flags = parseToolFlags(
  "redis-compare",
  "Usage: bun run redis-compare [flags]\n\nRedis SET + WAIT beside quorumkv, one run: writes/s, latency, and CPU per acknowledged write of\nthe servers (summed) and the client. Needs redis-server on PATH (apt-get install redis-server).",
  {
    writes: { type: "number", help: "writes per round and system", default: 20_000, integer: true, min: 1 },
    concurrency: { type: "number", help: "concurrent clients", default: 20, integer: true, min: 1 },
    keys: { type: "number", help: "distinct keys", default: 100, integer: true, min: 1 },
    quorum: { type: "number", help: "replicas to wait for (WAIT n / WRITE_QUORUM)", default: 3, integer: true, min: 1 },
    rounds: { type: "number", help: "alternating rounds", default: 3, integer: true, min: 1 },
    warmupWrites: { type: "number", help: "unmeasured writes to each system first (JIT warm-up)", default: 30_000, integer: true, min: 0 },
    floor: { type: "boolean", help: "also measure the skeleton of bench/lib/floor-node.ts each round (the floor of this design, bench:floor)" },
    sync: {
      type: "string",
      default: "memory",
      choices: toolStorageChoices,
      help: "quorumkv's storage: memory, or DATA_DIR with SYNC=fsync|write|none; Redis gets the matching append-only file (fsync: appendfsync always; write: appendfsync no)",
    },
  },
);
const replicaCount = 5;
/** Redis's persistence for each quorumkv storage: none for memory and SYNC=none, an AOF it writes (no fsync) for SYNC=write, an AOF fsynced before every answer for SYNC=fsync. */
const redisAppendFsync: Record<string, string | null> = { memory: null, none: null, write: "no", fsync: "always" };
const appendFsync = redisAppendFsync[flags.sync] ?? null;

interface Round {
  throughput: number;
  latencyMs: LatencyStatsMs;
  failed: number;
  /** µs of CPU per acknowledged write: every server process summed, and this client. */
  serverCpuUs: number;
  clientCpuUs: number;
}

async function startRedis(): Promise<{ port: number; pids: number[]; stop: () => Promise<void> }> {
  if (!Bun.which("redis-server")) throw new Error("redis-server is not on PATH: apt-get install -y redis-server");
  const ports = Array.from({ length: replicaCount + 1 }, () => freePort());
  // Replicas write their first sync to disk: keep that out of the working tree.
  const directory = mkdtempSync(join(tmpdir(), "quorumkv-redis-"));
  const processes: Subprocess[] = ports.map((port, i) =>
    Bun.spawn(
      [
        "redis-server",
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        appendFsync === null ? "no" : "yes",
        ...(appendFsync === null ? [] : ["--appendfsync", appendFsync, "--appenddirname", `aof-${port}`]),
        "--dir",
        directory,
        "--dbfilename",
        `dump-${port}.rdb`,
        ...(i === 0 ? [] : ["--replicaof", "127.0.0.1", String(ports[0])]),
      ],
      { stdout: "ignore", stderr: "ignore" },
    ),
  );
  const stop = async () => {
    for (const process of processes) process.kill("SIGKILL");
    await Promise.all(processes.map((process) => process.exited));
    rmSync(directory, { recursive: true, force: true });
  };
  const primary = new RedisClient(`redis://127.0.0.1:${ports[0]}`);
  try {
    const deadline = performance.now() + 15_000;
    for (;;) {
      const info = await primary.send("INFO", ["replication"]).catch(() => "");
      // Connected is not enough: a replica still in its first full sync makes WAIT block for seconds.
      if (String(info).match(/state=online/g)?.length === replicaCount) break;
      if (performance.now() > deadline) throw new Error("Redis replicas did not connect within 15 s");
      await Bun.sleep(100);
    }
  } catch (error) {
    primary.close();
    await stop();
    throw error;
  }
  primary.close();
  return { port: ports[0]!, pids: processes.map((process) => process.pid), stop };
}

type Load = Omit<Round, "serverCpuUs" | "clientCpuUs"> & { acknowledged: number };

/** Runs one round's load and adds the CPU per acknowledged write of `serverPids` (summed) and of this process. */
async function measured(serverPids: number[], load: () => Promise<Load>): Promise<Round> {
  const servers = cpuMeter(serverPids);
  const clientBeforeUs = ownCpuMicroseconds();
  const { acknowledged, ...round } = await load();
  const writes = Math.max(1, acknowledged);
  return {
    ...round,
    serverCpuUs: servers.perOperation(writes).reduce((sum, us) => sum + us, 0),
    clientCpuUs: (ownCpuMicroseconds() - clientBeforeUs) / writes,
  };
}

async function redisRound(port: number, writes = flags.writes): Promise<Load> {
  const latency = new LatencyRecorder();
  let next = 0;
  let failed = 0;
  const client = async () => {
    // WAIT counts the replicas that acknowledged this connection's writes, so each client has its own.
    const redis = new RedisClient(`redis://127.0.0.1:${port}`);
    await redis.connect();
    while (next < writes) {
      const i = next++;
      const startedMs = performance.now();
      await redis.send("SET", [`key-${i % flags.keys}`, `value-${i}`]);
      const acked = Number(await redis.send("WAIT", [String(flags.quorum), "0"]));
      if (acked >= flags.quorum) latency.record(performance.now() - startedMs);
      else failed++;
    }
    redis.close();
  };
  const startedMs = performance.now();
  await Promise.all(Array.from({ length: flags.concurrency }, client));
  const seconds = (performance.now() - startedMs) / 1000;
  return { throughput: latency.count / seconds, latencyMs: latency.stats(), failed, acknowledged: latency.count };
}

const redis = await startRedis();
type System = "redis" | "quorumkv" | "floor";
const rounds: Record<System, Round[]> = { redis: [], quorumkv: [], floor: [] };
/** The skeleton stores as quorumkv does: nothing, appended, or appended and fdatasync'd. */
const floorStorage = flags.sync === "fsync" ? "fsync" : flags.sync === "write" ? "write" : "memory";
try {
  const options = { followers: replicaCount, writeQuorum: flags.quorum, minDelayMs: 0, maxDelayMs: 0 };
  await withLocalCluster(
    options,
    async (cluster) => {
      if (flags.warmupWrites > 0) {
        await redisRound(redis.port, flags.warmupWrites);
        await runClosedLoad({ leaderUrl: cluster.leader.url, writes: flags.warmupWrites, concurrency: flags.concurrency, keys: flags.keys });
      }
      for (let round = 1; round <= flags.rounds; round++) {
        rounds.redis.push(await measured(redis.pids, () => redisRound(redis.port)));
        const nodePids = cluster.nodes.map((node) => node.pid!);
        const workload = { leaderUrl: cluster.leader.url, writes: flags.writes, concurrency: flags.concurrency, keys: flags.keys };
        rounds.quorumkv.push(
          await measured(nodePids, async () => {
            const ours = await runClosedLoad(workload);
            return { throughput: ours.throughput, latencyMs: ours.latencyMs, failed: ours.failed, acknowledged: ours.succeeded };
          }),
        );
        if (flags.floor) {
          const floorOptions = { followers: replicaCount, quorum: flags.quorum, storage: floorStorage } as const;
          const floorRound = await withFloorCluster(floorOptions, async (floor) => {
            const workload = { leaderUrl: floor.leaderUrl, concurrency: flags.concurrency, keys: flags.keys };
            if (flags.warmupWrites > 0) await runClosedLoad({ ...workload, writes: flags.warmupWrites });
            return measured(floor.pids, async () => {
              const load = await runClosedLoad({ ...workload, writes: flags.writes });
              return { throughput: load.throughput, latencyMs: load.latencyMs, failed: load.failed, acknowledged: load.succeeded };
            });
          });
          rounds.floor.push(floorRound);
        }
        const last = (name: System) => {
          const r = rounds[name].at(-1)!;
          return `${name} ${r.throughput.toFixed(0)} writes/s (p50 ${r.latencyMs.p50} ms, servers ${r.serverCpuUs.toFixed(1)} µs/write, client ${r.clientCpuUs.toFixed(1)})`;
        };
        console.log(`round ${round}: ${(flags.floor ? (["redis", "quorumkv", "floor"] as const) : (["redis", "quorumkv"] as const)).map(last).join(", ")}`);
      }
    },
    flags.sync as ToolStorage,
  );
} finally {
  await redis.stop();
}

const summary = (name: System) => ({
  throughput: median(rounds[name].map((r) => r.throughput)),
  p50: median(rounds[name].map((r) => r.latencyMs.p50)),
  p99: median(rounds[name].map((r) => r.latencyMs.p99)),
  failed: rounds[name].reduce((sum, r) => sum + r.failed, 0),
  serverCpuUs: median(rounds[name].map((r) => r.serverCpuUs)),
  clientCpuUs: median(rounds[name].map((r) => r.clientCpuUs)),
});
const r = summary("redis");
const q = summary("quorumkv");
const storage = flags.sync === "memory" ? "memory" : `DATA_DIR, SYNC=${flags.sync}`;
console.log(`
${flags.writes} writes x ${flags.rounds} rounds, ${flags.concurrency} clients, ${flags.keys} keys, 5 replicas, quorum ${flags.quorum}, quorumkv storage ${storage}, medians
(CPU in µs per acknowledged write, from /proc: every server process summed, and the client):
| system | writes/s | p50 ms | p99 ms | failed | server CPU µs | client CPU µs |
|---|---:|---:|---:|---:|---:|---:|
| Redis SET + WAIT ${flags.quorum} 0${appendFsync === null ? "" : `, appendfsync ${appendFsync}`} | ${r.throughput.toFixed(0)} | ${r.p50} | ${r.p99} | ${r.failed} | ${r.serverCpuUs.toFixed(1)} | ${r.clientCpuUs.toFixed(1)} |
| quorumkv PUT, WRITE_QUORUM ${flags.quorum} | ${q.throughput.toFixed(0)} | ${q.p50} | ${q.p99} | ${q.failed} | ${q.serverCpuUs.toFixed(1)} | ${q.clientCpuUs.toFixed(1)} |${floorRow()}

quorumkv / Redis throughput: ${(q.throughput / r.throughput).toFixed(2)}${flags.floor ? `; floor / Redis: ${(summary("floor").throughput / r.throughput).toFixed(2)}` : ""}`);

/** The skeleton's row of the table, with --floor. */
function floorRow(): string {
  if (!flags.floor) return "";
  const f = summary("floor");
  return `\n| floor skeleton (bench/lib/floor-node.ts) | ${f.throughput.toFixed(0)} | ${f.p50} | ${f.p99} | ${f.failed} | ${f.serverCpuUs.toFixed(1)} | ${f.clientCpuUs.toFixed(1)} |`;
}
