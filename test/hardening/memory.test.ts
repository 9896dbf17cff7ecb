import { afterAll, beforeAll, expect, test } from "bun:test";
import { measureMemory } from "../../bench/hardening/memory.ts";
import { mib } from "../../bench/hardening/rss.ts";
import { type Cluster, startCluster } from "../../src/cluster.ts";

/**
 * Bounded memory, reduced from bench/hardening/memory.ts (1,000,000 writes): 40,000 writes of
 * 3 KB values over 1,000 keys with LOG_RETENTION 2,000. The leader keeps 2,000 log entries, not
 * 40,000, and both nodes stay within the bound of state + retained log + watch window. Sized so
 * that a leader that kept its whole log (≈ 120 MB of values) would go over it (304 against 241 MiB
 * when measured).
 */

const logRetention = 2000;
let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ followers: 1, writeQuorum: 1, minDelayMs: 0, maxDelayMs: 0, logRetention });
});
afterAll(async () => {
  await cluster?.stop();
});

test("40,000 writes: the log keeps LOG_RETENTION entries and RSS stays within state + retained log", async () => {
  const run = await measureMemory(cluster, { writes: 40_000, keys: 1000, concurrency: 50, valueChars: 3000, logRetention });
  for (const node of run.nodes) console.log(`${node.name}: RSS idle ${mib(node.idleBytes)}, max ${mib(node.maxBytes)}; bound ${mib(node.boundBytes)}`);
  expect(run.succeeded).toBe(40_000);
  expect(run.logEntries).toBe(logRetention);
  for (const node of run.nodes) expect(node.maxBytes).toBeLessThanOrEqual(node.boundBytes);
});
