import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, generateToken } from "../src/cluster.ts";
import { parseToolFlags } from "../src/flags.ts";
import { realClock, realTimers } from "../src/node/env.ts";
import { DiskStorage } from "../src/storage/disk-storage.ts";
import { median } from "../tools/lib/latency.ts";
import { benchEntry, largeStatePairs } from "./lib/large-state.ts";
import { processCpuMicroseconds } from "./lib/process-cpu.ts";

/**
 * Restart time of a real node process with a large state: a DATA_DIR holding a snapshot of
 * `keys` pairs and 10,000 log entries after it (as a follower's directory looks after
 * compaction), then `bun src/main.ts` started on it as a follower, timed from spawn to its first
 * answer on /status (a node opens, checks and restores its storage before it listens), which
 * must report every key. bench:storage measures the same load and restore inside one process.
 */
const flags = parseToolFlags(
  "bench:restart",
  `Usage: bun run bench:restart [--keys 1000000] [--rounds 3]

Writes a data directory with a snapshot of --keys pairs plus 10,000 log entries, then starts a
follower process on it --rounds times and prints the time from spawn to its first /status answer
(wall, and the process's CPU up to then), with the median.`,
  {
    keys: { type: "number", help: "keys in the snapshot", default: 1_000_000, integer: true, min: 1 },
    rounds: { type: "number", help: "restarts timed (median reported)", default: 3, integer: true, min: 1 },
  },
);

const answerTimeoutMs = 60_000;
const root = mkdtempSync(join(tmpdir(), "quorumkv-bench-restart-"));
const dataDir = join(root, "data");

function writeDataDir(): void {
  const { storage } = DiskStorage.open(dataDir, "fsync", { clock: realClock, timers: realTimers, log: () => {} });
  storage.saveSnapshot({ offset: flags.keys, epoch: 1, pairs: largeStatePairs(flags.keys) });
  storage.appendEntries(Array.from({ length: 10_000 }, (_, index) => benchEntry(flags.keys + index + 1)));
  storage.close();
}

async function statusOf(url: string): Promise<{ keys: number } | null> {
  try {
    const response = await fetch(`${url}/status`, { signal: AbortSignal.timeout(1_000) });
    return (await response.json()) as { keys: number };
  } catch {
    return null;
  }
}

async function restartOnce(): Promise<{ wallMs: number; cpuMs: number }> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    PORT: String(port),
    ROLE: "follower",
    NODE_ID: "restart-bench",
    // A leader that is not there: the follower starts, serves /status and keeps asking.
    LEADER_URL: `http://127.0.0.1:${freePort()}`,
    CLUSTER_TOKEN: generateToken(),
    DATA_DIR: dataDir,
    SYNC: "fsync",
    LOG_LEVEL: "error",
  };
  const started = performance.now();
  const node = Bun.spawn(["bun", "src/main.ts"], { env, stdout: "ignore", stderr: "inherit" });
  try {
    while (performance.now() - started < answerTimeoutMs) {
      const status = await statusOf(url);
      if (status) {
        const wallMs = performance.now() - started;
        const cpuMs = processCpuMicroseconds(node.pid) / 1000;
        if (status.keys !== flags.keys) throw new Error(`the restarted node reports ${status.keys} keys, not ${flags.keys}`);
        return { wallMs, cpuMs };
      }
      if (node.exitCode !== null) throw new Error(`the node exited with ${node.exitCode}`);
      await Bun.sleep(5);
    }
    throw new Error(`no /status answer within ${answerTimeoutMs} ms`);
  } finally {
    node.kill("SIGTERM");
    await node.exited;
  }
}

try {
  writeDataDir();
  const rounds: { wallMs: number; cpuMs: number }[] = [];
  for (let round = 1; round <= flags.rounds; round++) {
    const result = await restartOnce();
    rounds.push(result);
    console.log(`restart ${round}: ${Math.round(result.wallMs)} ms to the first /status answer (node CPU ${Math.round(result.cpuMs)} ms)`);
  }
  console.log(
    `median: ${Math.round(median(rounds.map((r) => r.wallMs)))} ms wall, ${Math.round(median(rounds.map((r) => r.cpuMs)))} ms CPU, ${flags.keys.toLocaleString("en")} keys + 10,000 log entries`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
