import { StateMachine } from "../src/core/state-machine.ts";
import { parseConfig } from "../src/config.ts";
import { scanRoutes } from "../src/http/scan-routes.ts";
import { realTimers } from "../src/node/env.ts";
import { OffsetWatch } from "../src/node/offset-watch.ts";
import type { ServingNode } from "../src/node/serving-node.ts";
import { parseToolFlags } from "../src/flags.ts";

/**
 * `bun run bench:scan`: GET /kv scan latency over a large keyspace, through the route's Hono app
 * (no sockets), and what the ordered index costs an apply: applying new keys and overwrites.
 */
const flags = parseToolFlags(
  "bench:scan",
  `Usage: bun run bench:scan [flags]

Fills a state machine with --keys keys (user/<n>, in random order), then times --scans GET /kv
requests of --limit keys each at random points (prefix scans and after= pages), and prints the
latency percentiles; also the apply rate of new keys and of overwrites.`,
  {
    keys: { type: "number", integer: true, min: 1, default: 1_000_000, help: "keys in the state" },
    limit: { type: "number", integer: true, min: 1, max: 1000, default: 1000, help: "keys per scan" },
    scans: { type: "number", integer: true, min: 1, default: 2000, help: "scans timed" },
  },
);

/** A deterministic shuffle (xorshift), so runs compare. */
function shuffled(count: number): number[] {
  const order = Array.from({ length: count }, (_, i) => i);
  let seed = 2463534242;
  for (let i = count - 1; i > 0; i--) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    const j = (seed >>> 0) % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

const keyOf = (n: number) => `user/${String(n).padStart(7, "0")}`;
const state = new StateMachine();
const order = shuffled(flags.keys);
let offset = 0;
let started = performance.now();
for (const n of order) state.apply({ offset: ++offset, epoch: 1, key: keyOf(n), value: `{"n":${n}}` });
const insertSeconds = (performance.now() - started) / 1000;
started = performance.now();
for (const n of order) state.apply({ offset: ++offset, epoch: 1, key: keyOf(n), value: `{"n":${n + 1}}` });
const overwriteSeconds = (performance.now() - started) / 1000;

const config = parseConfig({ ROLE: "follower", CLUSTER_TOKEN: "bench-token-0123", LEADER_URL: "http://127.0.0.1:1" });
const node = {
  role: "follower",
  config,
  state,
  applied: new OffsetWatch(() => state.appliedOffset, realTimers),
  readBarrierOffset: 0,
  readRefusal: null,
} as unknown as ServingNode;
const app = scanRoutes(node);

const latenciesMs: number[] = [];
for (let i = 0; i < flags.scans; i++) {
  const from = order[i % order.length]!;
  const path =
    i % 2 === 0
      ? `/kv?after=${encodeURIComponent(keyOf(from))}&limit=${flags.limit}`
      : `/kv?prefix=${encodeURIComponent(keyOf(from).slice(0, 9))}&limit=${flags.limit}`;
  const t0 = performance.now();
  const response = await app.request(path);
  const text = await response.text();
  latenciesMs.push(performance.now() - t0);
  if (response.status !== 200 || !text.includes('"key"')) throw new Error(`scan ${path}: ${response.status}`);
}
latenciesMs.sort((a, b) => a - b);
const at = (q: number) => latenciesMs[Math.min(latenciesMs.length - 1, Math.floor(q * latenciesMs.length))]!.toFixed(2);
console.log(`keys ${flags.keys}, scans of ${flags.limit}: p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`);
console.log(
  `apply: ${Math.round(flags.keys / insertSeconds)} new keys/s (index insert), ${Math.round(flags.keys / overwriteSeconds)} overwrites/s (index untouched)`,
);
