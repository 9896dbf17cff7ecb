import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Cluster, type ClusterNode, leaderOf, startCluster, waitForLeader } from "../../src/cluster.ts";
import { checkRegister } from "../../src/sim/linearizability.ts";
import { http, waitFor } from "../helpers.ts";
import { clientLoad, findLeader, PeerClient } from "./peer-client.ts";

// Automatic failover among PEERS (docs/failover.md) with real processes on free ports: every node
// started here is stopped by its PID (ClusterNode.stop) after each test.

let cluster: Cluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

const statusOf = async (node: ClusterNode) => (await http(`${node.url}/status`)).body;

/** Every running node applied the leader's commit offset and holds the same digest. */
async function expectConverged(nodes: readonly ClusterNode[], token: string): Promise<void> {
  await waitFor(
    "every node to converge on the leader's state",
    async () => {
      const leader = await leaderOf(nodes);
      if (!leader) return false;
      const digests = await Promise.all(nodes.map(async (node) => (await http(`${node.url}/internal/digest`, { token })).body));
      const leading = digests[nodes.indexOf(leader)]!;
      return digests.every((digest) => digest.appliedOffset === leading.commitOffset && digest.digest === leading.digest);
    },
    20_000,
  );
}

function expectLinearizable(client: PeerClient): void {
  expect(client.history.size).toBeGreaterThan(0);
  for (const [key, operations] of client.history) expect({ key, ...checkRegister(operations) }).toEqual({ key, linearizable: true });
}

describe("failover among PEERS", () => {
  test("kill -9 of the leader under load at W=3: a new leader takes writes, nothing acknowledged is lost, the history is linearizable; the old leader rejoins and converges", async () => {
    cluster = await startCluster({ peers: true, writeQuorum: 3 });
    const client = PeerClient.of(cluster);
    const load = clientLoad(client, { count: 20, keys: 10 });
    await waitFor("writes before the kill", () => client.acks.length >= 200, 20_000);
    const old = cluster.leader;
    await old.stop("SIGKILL");
    const killedAtMs = performance.now();
    await waitFor("a write acknowledged by a new leader", () => client.acks.some((ack) => ack.atMs > killedAtMs && ack.url !== old.url), 15_000);
    await old.start();
    await waitFor("writes after the old leader is back", () => client.acks.filter((ack) => ack.atMs > killedAtMs).length >= 300, 20_000);
    await load.stop();
    // A last read of every key at the leader: an acknowledged write lost would show here.
    for (const key of client.history.keys()) await client.get(key);
    expectLinearizable(client);
    const leader = (await leaderOf(cluster.nodes))!;
    expect(leader.url).not.toBe(old.url);
    const oldStatus = await statusOf(old);
    expect(oldStatus).toMatchObject({ role: "follower", leader: leader.url });
    expect(oldStatus.epoch).toBeGreaterThan(1);
    await expectConverged(cluster.nodes, cluster.token);
    // `bun run check` as a user runs it, pointed at the old leader: it follows to the new one, and every follower agrees.
    const check = Bun.spawn([process.execPath, "tools/check.ts", "--leader", old.url, "--token", cluster.token], { stdout: "pipe", stderr: "pipe" });
    const [exitCode, output] = await Promise.all([check.exited, new Response(check.stdout).text()]);
    expect(output).toContain("Result: 5/5 followers consistent with the leader");
    expect(exitCode).toBe(0);
  });

  test("step-down under load hands leadership over with no failed write", async () => {
    cluster = await startCluster({ peers: true, writeQuorum: 3 });
    const client = PeerClient.of(cluster);
    const failed: string[] = [];
    const load = clientLoad(client, { count: 10, keys: 10, failed });
    let leader = cluster.leader;
    for (let round = 0; round < 2; round++) {
      const before = client.acks.length;
      await waitFor("writes before the step-down", () => client.acks.length >= before + 100, 20_000);
      const answer = await http(`${leader.url}/admin/step-down`, { method: "POST", token: cluster.token });
      expect(answer.status).toBe(200);
      expect(answer.body.leader).not.toBe(leader.url);
      leader = cluster.nodes.find((node) => node.url === answer.body.leader)!;
      expect((await statusOf(leader)).role).toBe("leader");
    }
    const after = client.acks.length;
    await waitFor("writes after the step-downs", () => client.acks.length >= after + 100, 20_000);
    await load.stop();
    expect(failed).toEqual([]);
    // Nothing was in doubt: no write's outcome is unknown.
    const unknown = [...client.history.values()].flat().filter((op) => !Number.isFinite(op.responseUs));
    expect(unknown).toEqual([]);
    expectLinearizable(client);
    const other = cluster.nodes.find((node) => node !== leader)!;
    expect(await http(`${other.url}/admin/step-down`, { method: "POST", token: cluster.token })).toMatchObject({ status: 421, body: { leader: leader.url } });
  });

  test("a rolling restart of all six nodes under load, the leader stepping down first, fails no write", async () => {
    cluster = await startCluster({ peers: true, writeQuorum: 3 });
    const client = PeerClient.of(cluster);
    const failed: string[] = [];
    const load = clientLoad(client, { count: 10, keys: 10, failed });
    for (const node of cluster.nodes) {
      const before = client.acks.length;
      await waitFor("writes before the restart", () => client.acks.length >= before + 50, 20_000);
      if ((await statusOf(node)).role === "leader") {
        expect((await http(`${node.url}/admin/step-down`, { method: "POST", token: cluster.token })).status).toBe(200);
      }
      await node.stop("SIGTERM");
      await node.start();
      await waitFor("the restarted node to follow", async () => (await statusOf(node)).leader !== null, 10_000);
    }
    const after = client.acks.length;
    await waitFor("writes after the rolling restart", () => client.acks.length >= after + 50, 20_000);
    await load.stop();
    expect(failed).toEqual([]);
    const unknown = [...client.history.values()].flat().filter((op) => !Number.isFinite(op.responseUs));
    expect(unknown).toEqual([]);
    expectLinearizable(client);
  });

  test("W is replicated state: raised at run time, it survives a kill -9 of the leader; the new leader's writes wait for it", async () => {
    cluster = await startCluster({ peers: true, writeQuorum: 1, quorumTimeoutMs: 1500 });
    const raised = await http(`${cluster.leader.url}/admin/config`, { method: "PUT", token: cluster.token, json: { writeQuorum: 5 } });
    expect(raised).toMatchObject({ status: 200, body: { writeQuorum: 5 } });
    expect((await http(`${cluster.leader.url}/kv/k`, { method: "PUT", json: { value: 1 } })).status).toBe(200);
    const followers = cluster.nodes.filter((node) => node !== cluster!.leader);
    await waitFor("every follower to hear W = 5", async () => (await Promise.all(followers.map(statusOf))).every((status) => status.writeQuorum === 5), 10_000);
    const old = cluster.leader;
    await old.stop("SIGKILL");
    const next = await waitForLeader(followers, 15_000);
    expect(await statusOf(next)).toMatchObject({ role: "leader", writeQuorum: 5 });
    // Five followers must hold a write, and one of them (the old leader) is down: it waits, then
    // answers in doubt. At the configured WRITE_QUORUM=1 it would be acknowledged at once.
    expect(await http(`${next.url}/kv/k`, { method: "PUT", json: { value: 2 } })).toMatchObject({ status: 503, body: { error: "quorum_timeout" } });
    await old.start();
    await waitFor(
      "a write acknowledged by five followers once the old leader is back",
      async () => (await http(`${next.url}/kv/k`, { method: "PUT", json: { value: 3 } })).status === 200,
      20_000,
    );
    expect((await http(`${next.url}/kv/k`)).body).toMatchObject({ value: 3 });
  });

  test("with DATA_DIR, W raised at run time survives a restart of every node: the leader then elected leads at it", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "quorumkv-w-"));
    try {
      cluster = await startCluster({ peers: true, writeQuorum: 1, dataDir });
      expect((await http(`${cluster.leader.url}/admin/config`, { method: "PUT", token: cluster.token, json: { writeQuorum: 4 } })).status).toBe(200);
      expect((await http(`${cluster.leader.url}/kv/k`, { method: "PUT", json: { value: 1 } })).status).toBe(200);
      await waitFor(
        "every node to hear W = 4",
        async () => (await Promise.all(cluster!.nodes.map(statusOf))).every((status) => status.writeQuorum === 4),
        10_000,
      );
      for (const node of cluster.nodes) await node.stop("SIGKILL");
      await Promise.all(cluster.nodes.map((node) => node.start()));
      const leader = await waitForLeader(cluster.nodes, 20_000);
      // Each node read W from its epoch file: without it, the leader would lead at WRITE_QUORUM=1.
      expect(await statusOf(leader)).toMatchObject({ role: "leader", writeQuorum: 4 });
      expect((await http(`${leader.url}/kv/k`)).body).toMatchObject({ value: 1 });
    } finally {
      await cluster?.stop();
      cluster = null;
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("a follower paused past the election timeout and resumed does not depose the leader (pre-vote)", async () => {
    cluster = await startCluster({ peers: true, writeQuorum: 3, env: { ELECTION_TIMEOUT_MS: "300" } });
    const leader = cluster.leader;
    const { epoch } = await statusOf(leader);
    const follower = cluster.followers[0]!;
    follower.pause();
    await Bun.sleep(1500); // the silence a rejoining node comes back from; nothing is polled meanwhile
    follower.resume();
    await waitFor("the resumed follower to follow the leader again", async () => (await statusOf(follower)).leader === leader.url, 10_000);
    // Its election timer fired on resume: had it stood, the epoch would have moved on.
    await Bun.sleep(600);
    expect(await statusOf(leader)).toMatchObject({ role: "leader", epoch });
    expect(await statusOf(follower)).toMatchObject({ role: "follower", epoch, leader: leader.url });
  });

  test("W = 0: no election after the leader dies (writes answer 503 no_leader) until POST /admin/promote forces one", async () => {
    cluster = await startCluster({ peers: true, writeQuorum: 0, env: { ELECTION_TIMEOUT_MS: "200" } });
    const client = PeerClient.of(cluster);
    expect(await client.put("before", 1)).toBe(true);
    await cluster.leader.stop("SIGKILL");
    const follower = cluster.followers[0]!;
    await waitFor("the followers to give up on the dead leader", async () => (await statusOf(follower)).leader === null, 5000);
    await Bun.sleep(1000); // five election timeouts: none may elect anyone
    expect(await findLeader(cluster.nodes.map((node) => node.url))).toBeNull();
    const refused = await http(`${follower.url}/kv/x`, { method: "PUT", json: { value: 1 } });
    expect(refused).toMatchObject({ status: 503, body: { error: "no_leader" } });
    const promoted = await http(`${follower.url}/admin/promote`, { method: "POST", token: cluster.token });
    expect(promoted).toMatchObject({ status: 200, body: { leader: follower.url, lossy: true } });
    expect(await http(`${follower.url}/kv/x`, { method: "PUT", json: { value: 2 } })).toMatchObject({ status: 200 });
    expect((await waitForLeader(cluster.nodes, 5000)).url).toBe(follower.url);
  });

  test("non-leaders answer writes 421 {leader}; /status has role, epoch, leader, peers; admin routes need the token", async () => {
    cluster = await startCluster({ peers: true, followers: 2, writeQuorum: 1 });
    const follower = cluster.followers[0]!;
    const urls = cluster.nodes.map((node) => node.url);
    expect(await statusOf(follower)).toMatchObject({ role: "follower", leader: cluster.leader.url, peers: urls });
    expect(await statusOf(cluster.leader)).toMatchObject({ role: "leader", leader: cluster.leader.url, epoch: 1, writeQuorum: 1 });
    for (const [method, path, json] of [
      ["PUT", "/kv/a", { value: 1 }],
      ["DELETE", "/kv/a", undefined],
      ["POST", "/set", { key: "a", value: 1 }],
      ["POST", "/txn", { compare: [], success: [], failure: [] }],
      ["PUT", "/admin/config", { writeQuorum: 1 }],
    ] as const) {
      const answer = await http(`${follower.url}${path}`, { method, json, token: cluster.token });
      expect({ path, ...answer }).toMatchObject({ path, status: 421, body: { error: "not_leader", leader: cluster.leader.url } });
    }
    expect((await http(`${follower.url}/admin/promote`, { method: "POST" })).status).toBe(401);
    expect((await http(`${follower.url}/internal/pre-vote`, { method: "POST", token: cluster.token, json: { epoch: "x" } })).status).toBe(400);
  });
});
