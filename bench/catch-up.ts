import { parseToolFlags } from "../src/flags.ts";
import { withLocalCluster } from "../tools/lib/local-cluster.ts";
import { authorizedFetch } from "../tools/lib/target.ts";
import { runClosedLoad } from "../tools/load.ts";

/**
 * How fast a follower catches up: one follower is stopped, `--behind` writes land (quorum 3 of the
 * other four), then it restarts empty and the time until it has applied the leader's whole log
 * gives entries/s. With `--log-retention` below `--behind` it comes back through a snapshot.
 */

const flags = parseToolFlags(
  "catch-up",
  "Usage: bun run catch-up [flags]\n\nOne follower of a local cluster misses --behind writes, restarts empty, and catches up; prints entries/s.",
  {
    behind: { type: "number", help: "writes the follower misses", default: 100_000, integer: true, min: 1 },
    keys: { type: "number", help: "distinct keys", default: 10_000, integer: true, min: 1 },
    logRetention: { type: "number", help: "LOG_RETENTION of the leader", default: 100_000, integer: true, min: 1 },
    minDelayMs: { type: "number", help: "MIN_DELAY_MS", default: 0.1, min: 0 },
    maxDelayMs: { type: "number", help: "MAX_DELAY_MS", default: 10, min: 0 },
  },
);

await withLocalCluster(
  { followers: 5, writeQuorum: 3, logRetention: flags.logRetention, minDelayMs: flags.minDelayMs, maxDelayMs: flags.maxDelayMs },
  async (cluster) => {
    const behind = cluster.followers[4]!;
    await behind.stop("SIGKILL");
    const load = await runClosedLoad({ leaderUrl: cluster.leader.url, writes: flags.behind, concurrency: 50, keys: flags.keys });
    const digest = async (url: string) =>
      (await (await authorizedFetch(cluster.token, `${url}/internal/digest`)).json()) as {
        commitOffset: number;
        appliedOffset: number;
        digest: string;
      };
    const target = await digest(cluster.leader.url);
    const startedMs = performance.now();
    await behind.start();
    for (;;) {
      const state = await digest(behind.url).catch(() => null);
      if (state && state.appliedOffset >= target.commitOffset) break;
      if (performance.now() - startedMs > 600_000) throw new Error("no catch-up within 10 minutes");
      await Bun.sleep(10);
    }
    const seconds = (performance.now() - startedMs) / 1000;
    const status = (await (await fetch(`${cluster.leader.url}/status`)).json()) as { followers: { fullResyncs: number }[] };
    const via = status.followers[4]!.fullResyncs > 0 ? "snapshot + log" : "log";
    console.log(
      `${target.commitOffset} entries (${flags.keys} keys, written at ${load.throughput.toFixed(0)} writes/s) caught up via ${via} ` +
        `in ${seconds.toFixed(2)} s (restart included): ${(target.commitOffset / seconds).toFixed(0)} entries/s; ` +
        `delay U(${flags.minDelayMs}, ${flags.maxDelayMs}) ms, LOG_RETENTION ${flags.logRetention}`,
    );
    if ((await digest(behind.url)).digest !== (await digest(cluster.leader.url)).digest) throw new Error("digests differ after catch-up");
  },
);
