import { type ConsistencyReport, checkConsistency, type NodeDigest } from "./lib/consistency.ts";
import { parseToolFlags } from "../src/flags.ts";
import { authorizedFetch, findTarget, TargetError } from "./lib/target.ts";

/**
 * `bun run check`: is every follower's state exactly the leader's? Waits (bounded) until all
 * nodes applied the leader's whole log, compares the O(1) digests, and on a mismatch diffs the
 * streamed dumps to name the keys each follower is missing, has extra, or holds differently.
 * Exit 0 when consistent, 1 when not, 2 on a usage error.
 */

export interface KeyDiff {
  missing: string[];
  extra: string[];
  different: string[];
}

export interface CheckResult extends ConsistencyReport {
  diffs: Record<string, KeyDiff>;
}

type Dump = Map<string, string>;

/** key → "offset value" lines of a node's /internal/dump. */
export async function readDump(url: string, token: string): Promise<Dump> {
  const response = await authorizedFetch(token, `${url}/internal/dump`, { signal: AbortSignal.timeout(60_000) });
  if (!response.ok) throw new TargetError(`${url}/internal/dump answered ${response.status}`);
  const pairs: Dump = new Map();
  for (const line of (await response.text()).split("\n")) {
    if (!line) continue;
    const { key, value, offset } = JSON.parse(line) as { key: string; value: unknown; offset: number };
    pairs.set(key, `${offset} ${JSON.stringify(value)}`);
  }
  return pairs;
}

export function diffDumps(leader: Dump, follower: Dump): KeyDiff {
  const diff: KeyDiff = { missing: [], extra: [], different: [] };
  for (const [key, stored] of leader) {
    const other = follower.get(key);
    if (other === undefined) diff.missing.push(key);
    else if (other !== stored) diff.different.push(key);
  }
  for (const key of follower.keys()) if (!leader.has(key)) diff.extra.push(key);
  return diff;
}

export async function runCheck(options: { leaderUrl: string; followerUrls: string[]; token: string; waitMs: number }): Promise<CheckResult> {
  const report = await checkConsistency(options);
  const diffs: Record<string, KeyDiff> = {};
  if (!report.consistent) {
    const leaderDump = await readDump(options.leaderUrl, options.token);
    for (const node of report.nodes.slice(1)) {
      if (node.error) continue;
      const diff = diffDumps(leaderDump, await readDump(node.url, options.token));
      if (diff.missing.length + diff.extra.length + diff.different.length > 0) diffs[node.url] = diff;
    }
  }
  return { ...report, diffs };
}

const listedKeysMax = 10;

function verdict(node: NodeDigest, leader: NodeDigest, diff: KeyDiff | undefined): string {
  if (node.error) return `UNREACHABLE (${node.error})`;
  if (diff) return "DIFFERS";
  if (node.digest !== leader.digest || node.appliedOffset !== leader.appliedOffset) return "BEHIND";
  return "CONSISTENT";
}

export function formatReport(result: CheckResult): string {
  const leader = result.nodes[0]!;
  const rows = result.nodes.map((node, i) => {
    const cells = [
      (node.id ?? node.url).padEnd(12),
      (node.role ?? "?").padEnd(9),
      String(node.keys ?? "-").padStart(8),
      String(node.appliedOffset ?? "-").padStart(10),
      (node.digest ?? "-").padEnd(17),
      i === 0 ? "(reference)" : verdict(node, leader, result.diffs[node.url]),
    ];
    return cells.join(" ");
  });
  const lines = [["node".padEnd(12), "role".padEnd(9), "keys".padStart(8), "offset".padStart(10), "digest".padEnd(17), "result"].join(" "), ...rows];
  for (const [url, diff] of Object.entries(result.diffs)) {
    const node = result.nodes.find((n) => n.url === url);
    lines.push("", `${node?.id ?? url}:`);
    for (const kind of ["missing", "extra", "different"] as const) {
      const keys = diff[kind];
      if (keys.length === 0) continue;
      const shown = keys
        .slice(0, listedKeysMax)
        .map((key) => JSON.stringify(key))
        .join(", ");
      lines.push(`  ${kind} ${keys.length}: ${shown}${keys.length > listedKeysMax ? ", …" : ""}`);
    }
  }
  const followers = result.nodes.slice(1);
  const agreeing = followers.filter((node) => verdict(node, leader, result.diffs[node.url]) === "CONSISTENT").length;
  lines.push(
    "",
    `Result: ${agreeing}/${followers.length} followers consistent with the leader${result.converged ? "" : ` (not converged after ${result.waitedMs} ms)`}`,
  );
  return lines.join("\n");
}

async function main(): Promise<void> {
  const flags = parseToolFlags(
    "check",
    "Usage: bun run check [flags]\n\nCompares every follower's state with the leader's; exit 0 when all agree, 1 when not.",
    {
      leader: { type: "string", help: "leader base URL (env LEADER_URL; default http://127.0.0.1:5001); any node will do" },
      peers: { type: "string", help: "comma-separated node URLs to ask for the leader (default: .quorumkv/cluster.json's)" },
      token: { type: "string", help: "cluster token (env CLUSTER_TOKEN; default .quorumkv/cluster.json)" },
      followers: { type: "string", help: "comma-separated follower URLs, instead of the ones the leader reports" },
      waitMs: { type: "number", help: "how long to wait for every node to apply the leader's log", default: 10_000, min: 0 },
      json: { type: "boolean", help: "print the result as JSON" },
    },
  );
  try {
    const target = await findTarget({ leader: flags.leader, token: flags.token, followerUrls: flags.followers?.split(","), peers: flags.peers });
    if (!target.token) throw new TargetError("no cluster token: pass --token, set CLUSTER_TOKEN, or start the cluster with `npm start`");
    const result = await runCheck({ leaderUrl: target.leaderUrl, followerUrls: target.followerUrls, token: target.token, waitMs: flags.waitMs });
    console.log(flags.json ? JSON.stringify(result, null, 2) : formatReport(result));
    process.exit(result.consistent ? 0 : 1);
  } catch (error) {
    if (!(error instanceof TargetError)) throw error;
    console.error(`check: ${error.message}`);
    process.exit(2);
  }
}

if (import.meta.main) await main();
