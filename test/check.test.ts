import { afterAll, expect, test } from "bun:test";
import { type Cluster, startCluster } from "../src/cluster.ts";
import { http, waitFor } from "./helpers.ts";
import { inProcessCluster, jsonRequest, testToken } from "../src/in-process-cluster.ts";

// `bun run check` as users run it: a separate process reading a cluster over HTTP.

async function runCheck(args: string[]): Promise<{ exitCode: number; stdout: string }> {
  const child = Bun.spawn([process.execPath, "tools/check.ts", ...args], { stdout: "pipe", stderr: "pipe" });
  const [exitCode, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { exitCode, stdout: stdout + stderr };
}

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

test("a healthy cluster after concurrent writes: every follower CONSISTENT, exit 0", async () => {
  const cluster: Cluster = await startCluster({ followers: 5, writeQuorum: 3 });
  cleanups.push(() => cluster.stop());
  await Promise.all(Array.from({ length: 100 }, (_, i) => http(`${cluster.leader.url}/kv/k${i % 17}`, { method: "PUT", json: { value: i } })));
  const { exitCode, stdout } = await runCheck(["--leader", cluster.leader.url, "--token", cluster.token]);
  expect(stdout).toContain("Result: 5/5 followers consistent with the leader");
  expect(stdout.match(/CONSISTENT/g)).toHaveLength(5);
  expect(exitCode).toBe(0);
});

test("a follower that applied a forged entry is found: DIFFERS, the key named, exit 1", async () => {
  // The cluster runs in this process (served on real ports), so the test can slip one follower
  // an entry the leader never wrote, at the offset the leader's own next write will take.
  const cluster = inProcessCluster();
  cleanups.push(() => cluster.stop());
  const serve = (app: { fetch: (request: Request) => Response | Promise<Response> }) => {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
    cleanups.push(() => server.stop(true));
    return `http://127.0.0.1:${server.port}`;
  };
  const leaderUrl = serve(cluster.leader.app);
  const followerUrls = cluster.followers.map((follower) => serve(follower.app));
  for (let i = 0; i < 30; i++) await cluster.leader.app.request(`/kv/k${i % 5}`, jsonRequest("PUT", { value: i }));
  const victim = cluster.followers[1]!.node;
  await waitFor("the follower to apply 30", () => victim.core.appliedOffset === 30);
  const next = victim.core.lastOffset + 1;
  const forged = { offset: next, epoch: victim.core.epoch, key: "victim", value: '"forged"' };
  const prevEpoch = victim.core.lastEntryEpoch;
  victim.core.receive({ epoch: victim.core.epoch, leaderId: "forger", prevOffset: next - 1, prevEpoch, entries: [forged], commitOffset: next });
  await cluster.leader.app.request("/kv/victim", jsonRequest("PUT", { value: "real" }));

  const { exitCode, stdout } = await runCheck(["--leader", leaderUrl, "--token", testToken, "--followers", followerUrls.join(","), "--wait-ms", "3000"]);
  expect(stdout).toContain("DIFFERS");
  expect(stdout).toContain('different 1: "victim"');
  expect(stdout).toContain("Result: 4/5 followers consistent with the leader");
  expect(exitCode).toBe(1);
});

test("a wrong token or no cluster is a clear usage error, exit 2", async () => {
  const nobody = await runCheck(["--leader", "http://127.0.0.1:1", "--token", "x".repeat(10)]);
  expect(nobody.exitCode).toBe(2);
  expect(nobody.stdout).toContain("no cluster answers at http://127.0.0.1:1");
  // Only what check itself takes: it has no --local (a cluster of its own would prove nothing).
  expect(nobody.stdout).toContain("start one with `npm start` or pass --leader URL\n");
  expect(nobody.stdout).not.toContain("--local");
});
