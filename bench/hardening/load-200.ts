import { runCheck } from "../../tools/check.ts";
import { formatSummary, runClosedLoad } from "../../tools/load.ts";
import { FlagError, parseToolFlags } from "../../src/flags.ts";
import { withLocalCluster } from "../../tools/lib/local-cluster.ts";
import { progressBar } from "../../tools/lib/progress.ts";
import { TargetError, findTarget } from "../../tools/lib/target.ts";
import { mib, sampleRss } from "./rss.ts";

/**
 * Hardening load: 200 concurrent keep-alive clients write 100,000 times over 1,000 keys at
 * quorum 3. Passes (exit 0) only when every write succeeded, nothing answered 5xx, and every
 * follower ends with the leader's exact state. Prints throughput, latency and the nodes' RSS.
 *
 *   bun run load-200                 # own local cluster: 1 leader + 5 followers
 *   bun run load-200 --leader URL --token T
 */

const usage = `Usage: bun run load-200 [flags]

200 closed-loop clients, 100,000 writes over 1,000 keys at ?quorum=3; then a consistency check.
Exit 0 when 100 % of the writes succeeded and the followers converged, 1 otherwise.`;

const flags = {
  writes: { type: "number", default: 100_000, integer: true, min: 1, help: "writes in all" },
  concurrency: { type: "number", default: 200, integer: true, min: 1, help: "concurrent clients" },
  keys: { type: "number", default: 1000, integer: true, min: 1, help: "distinct keys" },
  quorum: { type: "number", default: 3, integer: true, min: 0, help: "per-request ?quorum=" },
  leader: { type: "string", help: "an existing cluster's leader (default: start a local one)" },
  token: { type: "string", help: "that cluster's token (env CLUSTER_TOKEN)" },
  followers: { type: "number", default: 5, integer: true, min: 1, help: "local cluster: followers" },
  minDelayMs: { type: "number", min: 0, help: "local cluster: MIN_DELAY_MS (node default 0.1)" },
  maxDelayMs: { type: "number", min: 0, help: "local cluster: MAX_DELAY_MS (node default 10)" },
  json: { type: "boolean", help: "print the result as JSON" },
} as const;

async function main(): Promise<number> {
  const options = parseToolFlags("load-200", usage, flags);
  const run = async (leaderUrl: string, followerUrls: string[], token: string, pids: Record<string, number>) => {
    const rss = sampleRss(pids, 500);
    const bar = progressBar(options.writes, "load-200");
    const summary = await runClosedLoad({
      leaderUrl,
      writes: options.writes,
      concurrency: options.concurrency,
      keys: options.keys,
      quorum: options.quorum,
      onProgress: bar.set,
    });
    bar.finish();
    const check = await runCheck({ leaderUrl, followerUrls, token, waitMs: 60_000 });
    return { summary, check, rss: await rss.stop() };
  };
  const result = options.leader
    ? await (async () => {
        const target = await findTarget({ leader: options.leader, token: options.token });
        if (!target.token) throw new TargetError("no cluster token: pass --token or set CLUSTER_TOKEN");
        return run(target.leaderUrl, target.followerUrls, target.token, {});
      })()
    : await withLocalCluster(
        { followers: options.followers, writeQuorum: Math.min(3, options.followers), minDelayMs: options.minDelayMs, maxDelayMs: options.maxDelayMs },
        (cluster) =>
          run(
            cluster.leader.url,
            cluster.followers.map((f) => f.url),
            cluster.token,
            Object.fromEntries(cluster.nodes.slice(0, 2).map((node) => [node.id, node.pid!])),
          ),
      );
  const { summary, check, rss } = result;
  const serverErrors = Object.entries(summary.errors).filter(([code]) => /^http_5|quorum_timeout|stale_read|internal/.test(code));
  const passed = summary.succeeded === options.writes && summary.failed === 0 && check.consistent;
  if (options.json) {
    const { distribution: _, ...rest } = summary;
    console.log(JSON.stringify({ passed, summary: rest, consistent: check.consistent, nodes: check.nodes, rss }, null, 2));
  } else {
    console.log(formatSummary(summary));
    console.log(`  5xx         ${serverErrors.length > 0 ? serverErrors.map(([code, n]) => `${code} ${n}`).join(", ") : "none"}`);
    console.log(
      `  consistency ${check.consistent ? "all followers hold the leader's digest" : "FOLLOWERS DIFFER"} (${check.nodes.map((n) => `${n.id ?? n.url} ${n.digest ?? n.error}`).join(", ")})`,
    );
    for (const [name, series] of Object.entries(rss))
      console.log(`  RSS ${name.padEnd(10)} ${mib(series.firstBytes)} → max ${mib(series.maxBytes)}, end ${mib(series.lastBytes)}`);
    console.log(passed ? "PASS: 100 % of writes succeeded, followers converged" : "FAIL");
  }
  return passed ? 0 : 1;
}

if (import.meta.main) {
  const code = await main().catch((error: Error) => {
    console.error(`load-200: ${error.message}`);
    return error instanceof TargetError || error instanceof FlagError ? 2 : 1;
  });
  process.exit(code);
}
