import { type Cluster, startCluster } from "../../src/cluster.ts";
import { watchWindowCharsMax } from "../../src/core/state-machine.ts";
import { FlagError, parseToolFlags } from "../../src/flags.ts";
import { progressBar } from "../../tools/lib/progress.ts";
import { mib, rssBytes, sampleRss } from "./rss.ts";
import { writeLoad } from "./writer.ts";

/**
 * Bounded memory: a local cluster (zero simulated delay) takes 1,000,000 writes over 10,000 keys
 * while the leader's and a follower's RSS are sampled. What a node may keep is its state (one
 * slot per key) and, on the leader, its log: LOG_RETENTION entries, held in an array that is
 * compacted only once half of it is dropped, so up to twice that. The bound is those items at a
 * per-item cost, doubled for the garbage collector's slack, over the node's RSS after a warm-up,
 * plus a fixed headroom (figures in BENCHMARKS-hardening.md). Exit 1 when a node goes over it.
 *
 *   bun run memory                                                   # the recorded run
 *   bun run memory --writes 300000 --log-retention 10000 --value-chars 200
 */

/** Bytes a key's slot costs beyond its text (Map entry, slot object, hash). */
export const slotOverheadBytes = 200;
/** Bytes a log entry costs beyond its text (entry object, array slot). */
export const entryOverheadBytes = 300;
/** The log array holds up to this many times LOG_RETENTION entries between compactions (src/core/log.ts). */
export const logCompactionFactor = 2;
/** Live data to RSS: the collector lets garbage reach about the live size before it runs. */
export const garbageFactor = 2;
/** Fixed room for what is not state: JIT code, HTTP and socket buffers. */
export const headroomBytes = 64 * 1024 * 1024;

export interface MemoryBoundInput {
  idleBytes: number;
  keys: number;
  keyChars: number;
  valueChars: number;
  /** LOG_RETENTION on the leader (or the number of writes, if fewer); 0 on a follower. */
  retainedEntries: number;
}

/**
 * What a node may use: idle RSS + garbageFactor × (state + log + watch window) + headroom. The
 * watch window (every node's last changes, for watchers) keeps up to watchWindowCharsMax
 * characters of keys and values alive, old values included.
 */
export function memoryBoundBytes(input: MemoryBoundInput): number {
  const textBytes = 2 * (input.keyChars + input.valueChars); // strings are UTF-16 at worst
  const state = input.keys * (textBytes + slotOverheadBytes);
  const log = logCompactionFactor * input.retainedEntries * (textBytes + entryOverheadBytes);
  const watchWindow = 2 * watchWindowCharsMax;
  return input.idleBytes + garbageFactor * (state + log + watchWindow) + headroomBytes;
}

const usage = `Usage: bun run memory [flags]

1,000,000 writes over 10,000 keys with zero simulated delay; samples the RSS of the leader and
follower1, prints them with their bounds, and exits 1 when either is over its bound.`;

const flags = {
  writes: { type: "number", default: 1_000_000, integer: true, min: 1, help: "writes in all" },
  keys: { type: "number", default: 10_000, integer: true, min: 1, help: "distinct keys" },
  concurrency: { type: "number", default: 100, integer: true, min: 1, help: "concurrent clients" },
  valueChars: { type: "number", default: 0, integer: true, min: 0, help: "characters per value (0: value-<i>)" },
  followers: { type: "number", default: 5, integer: true, min: 1, help: "followers" },
  logRetention: { type: "number", default: 100_000, integer: true, min: 1, help: "LOG_RETENTION of the leader" },
  json: { type: "boolean", help: "print the result as JSON" },
} as const;

export interface MemoryRun {
  writes: number;
  succeeded: number;
  seconds: number;
  logEntries: number;
  nodes: { name: string; idleBytes: number; maxBytes: number; endBytes: number; boundBytes: number }[];
  passed: boolean;
}

export async function measureMemory(
  cluster: Cluster,
  options: { writes: number; keys: number; concurrency: number; valueChars: number; logRetention: number; onProgress?: (done: number) => void },
): Promise<MemoryRun> {
  const leaderUrl = cluster.leader.url;
  const watched = { leader: cluster.leader.pid!, follower1: cluster.followers[0]!.pid! };
  // Warm-up: JIT and connection pools, so "idle" is a node that has served requests.
  await writeLoad({ leaderUrl, writes: 2000, concurrency: options.concurrency, keys: 100, valueChars: options.valueChars });
  const idle = { leader: await rssBytes(watched.leader), follower1: await rssBytes(watched.follower1) };
  const sampler = sampleRss(watched, 250);
  const load = await writeLoad({ leaderUrl, ...options });
  const status = (await (await fetch(`${leaderUrl}/status`)).json()) as { lastOffset: number; logFirstOffset: number };
  const series = await sampler.stop();
  const keyChars = `key-${options.keys - 1}`.length;
  const valueChars = Math.max(options.valueChars, `value-${options.writes}`.length);
  const retained = { leader: Math.min(options.logRetention, options.writes + 2000), follower1: 0 };
  const nodes = (["leader", "follower1"] as const).map((name) => ({
    name,
    idleBytes: idle[name],
    maxBytes: series[name]!.maxBytes,
    endBytes: series[name]!.lastBytes,
    boundBytes: memoryBoundBytes({ idleBytes: idle[name], keys: options.keys, keyChars, valueChars, retainedEntries: retained[name] }),
  }));
  return {
    writes: options.writes,
    succeeded: load.succeeded,
    seconds: load.seconds,
    logEntries: status.lastOffset - status.logFirstOffset + 1,
    nodes,
    passed: load.succeeded === options.writes && nodes.every((node) => node.maxBytes <= node.boundBytes),
  };
}

async function main(): Promise<number> {
  const options = parseToolFlags("memory", usage, flags);
  const cluster = await startCluster({
    followers: options.followers,
    writeQuorum: Math.min(3, options.followers),
    minDelayMs: 0,
    maxDelayMs: 0,
    logRetention: options.logRetention,
  });
  const onSignal = () => void cluster.stop().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const bar = progressBar(options.writes, "memory");
    const run = await measureMemory(cluster, { ...options, onProgress: bar.set });
    bar.finish();
    if (options.json) console.log(JSON.stringify(run, null, 2));
    else {
      console.log(
        `quorumkv memory: ${run.succeeded}/${run.writes} writes over ${options.keys} keys in ${run.seconds.toFixed(1)} s ` +
          `(${Math.round(run.succeeded / run.seconds)} writes/s), ${options.followers} followers, LOG_RETENTION ${options.logRetention}, zero delay`,
      );
      console.log(`  leader log holds ${run.logEntries} entries`);
      for (const node of run.nodes) {
        const verdict = node.maxBytes <= node.boundBytes ? "ok" : "OVER";
        console.log(
          `  ${node.name.padEnd(10)} RSS idle ${mib(node.idleBytes)}, max ${mib(node.maxBytes)}, end ${mib(node.endBytes)}; bound ${mib(node.boundBytes)} ${verdict}`,
        );
      }
      console.log(run.passed ? "PASS: every node within its bound" : "FAIL");
    }
    return run.passed ? 0 : 1;
  } finally {
    await cluster.stop();
  }
}

if (import.meta.main) {
  const code = await main().catch((error: Error) => {
    console.error(`memory: ${error.message}`);
    return error instanceof FlagError ? 2 : 1;
  });
  process.exit(code);
}
