import { bench, do_not_optimize, group, run } from "mitata";
import { FollowerCore } from "../src/core/follower.ts";
import { Log } from "../src/core/log.ts";
import { commitOffset } from "../src/core/quorum.ts";
import type { Entry, ReplicateMessage } from "../src/core/types.ts";
import { replicateMessageSchema } from "../src/http/internal-routes.ts";
import { parseToolFlags } from "../src/flags.ts";
import { inProcessCluster, jsonRequest } from "../src/in-process-cluster.ts";

/**
 * `bun run bench`: mitata micro-benchmarks of the write path's hot spots, from the commit math
 * up to a whole PUT through app.fetch (an in-process cluster, no sockets, no simulated delay).
 */
parseToolFlags(
  "bench",
  `Usage: bun run bench

mitata micro-benchmarks of the write path: commit math, log append and slice, JSON and zod on a
replicate message, a follower receiving a batch, and a whole PUT through app.fetch in-process.`,
  {},
);

const batch = (from: number, count: number): Entry[] =>
  Array.from({ length: count }, (_, i) => ({ offset: from + i, epoch: 1, key: `key-${(from + i) % 100}`, value: `"value-${from + i}"` }));
const message = (prevOffset: number, count: number): ReplicateMessage => ({
  epoch: 1,
  leaderId: "leader",
  prevOffset,
  prevEpoch: prevOffset === 0 ? 0 : 1,
  entries: batch(prevOffset + 1, count),
  commitOffset: prevOffset,
});

group("commit math", () => {
  const matchOffsets = [1041, 1038, 1044, 1040, 1039];
  bench("commitOffset, 5 followers, quorum 3", () => do_not_optimize(commitOffset(matchOffsets, 3, 1044)));
});

group("log", () => {
  const log = new Log();
  for (let i = 0; i < 100_000; i++) log.append(1, `key-${i % 100}`, `"value-${i}"`);
  bench("append", () => do_not_optimize(log.append(1, "key", '"value"')));
  bench("slice 8 entries", () => do_not_optimize(log.slice(50_000, 8)));
});

group("message encode / decode (8 entries)", () => {
  const sample = message(1000, 8);
  const text = JSON.stringify(sample);
  bench("JSON.stringify", () => do_not_optimize(JSON.stringify(sample)));
  bench("JSON.parse + zod validation", () => do_not_optimize(replicateMessageSchema.parse(JSON.parse(text))));
});

group("follower apply", () => {
  let follower = new FollowerCore();
  let offset = 0;
  bench("receive 8 entries, commit and apply them", () => {
    if (offset > 1_000_000) {
      follower = new FollowerCore();
      offset = 0;
    }
    const next = message(offset, 8);
    next.commitOffset = offset + 8;
    do_not_optimize(follower.receive(next));
    // What the node does after every message: hand the Ready to storage (else it accumulates).
    do_not_optimize(follower.takeReady());
    offset += 8;
  });
});

const cluster = inProcessCluster();
let sequence = 0;
group("PUT through app.fetch (in-process cluster, 5 followers, quorum 3)", () => {
  bench("PUT /kv/key-n", async () => {
    const n = sequence++;
    const response = await cluster.leader.app.request(`/kv/key-${n % 100}`, jsonRequest("PUT", { value: `value-${n}` }));
    do_not_optimize(await response.text());
  });
});

await run({ colors: process.stdout.isTTY === true });
cluster.stop();
