import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Cluster, generateToken, startCluster } from "../../src/cluster.ts";
import { http } from "../helpers.ts";
import { expectConverged } from "../workload.ts";

/**
 * Unauthorised peers and admins against real processes: 1,000 attempts each with no token, a
 * wrong token and another cluster's token, at every /internal and /admin route, carrying the
 * most harmful messages there are (a newer epoch with entries, a snapshot, quorum 0). None may
 * be accepted and no node's state may move. With the right token, an old epoch is fenced.
 */

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ followers: 3, writeQuorum: 2, minDelayMs: 0, maxDelayMs: 1 });
  for (let i = 0; i < 30; i++) {
    expect((await http(`${cluster.leader.url}/kv/seed-${i % 10}`, { method: "PUT", json: { value: i } })).status).toBe(200);
  }
  await expectConverged(cluster);
});
afterAll(async () => {
  await cluster?.stop();
});

interface NodeView {
  epoch: number;
  lastOffset: number;
  commitOffset: number;
  appliedOffset: number;
  keys: number;
  digest: string;
}

async function clusterView() {
  const nodes: NodeView[] = [];
  for (const node of cluster.nodes) {
    const { epoch, lastOffset, commitOffset, appliedOffset, keys, digest } = (await http(`${node.url}/internal/digest`, { token: cluster.token })).body;
    nodes.push({ epoch, lastOffset, commitOffset, appliedOffset, keys, digest });
  }
  const { writeQuorum, delay } = (await http(`${cluster.leader.url}/status`)).body;
  return { nodes, writeQuorum, minDelayMs: delay.minDelayMs, maxDelayMs: delay.maxDelayMs };
}

interface Attack {
  url: string;
  method: string;
  body?: string;
}

/** The requests an intruder would send: each does damage if it is accepted. */
function attacks(epoch: number, lastOffset: number): ((i: number) => Attack)[] {
  const follower = (i: number) => cluster.followers[i % cluster.followers.length]!.url;
  const newerEpoch = epoch + 1;
  const replicate = {
    epoch: newerEpoch,
    leaderId: "intruder",
    prevOffset: lastOffset,
    prevEpoch: epoch,
    entries: [{ offset: lastOffset + 1, epoch: newerEpoch, key: "seed-0", value: '"hijacked"' }],
    commitOffset: lastOffset + 1,
  };
  const snapshot = {
    epoch: newerEpoch,
    leaderId: "intruder",
    snapshotOffset: lastOffset + 10,
    snapshotEpoch: epoch,
    chunk: 0,
    pairs: [["seed-0", '"hijacked"', 1]],
    done: true,
    commitOffset: lastOffset + 10,
  };
  return [
    (i: number) => ({ url: `${follower(i)}/internal/replicate`, method: "POST", body: JSON.stringify(replicate) }),
    (i: number) => ({ url: `${follower(i)}/internal/snapshot`, method: "POST", body: JSON.stringify(snapshot) }),
    (i: number) => ({ url: `${follower(i)}/internal/recover`, method: "GET" }),
    (i: number) => ({ url: `${i % 2 ? follower(i) : cluster.leader.url}/internal/digest`, method: "GET" }),
    (i: number) => ({ url: `${i % 2 ? follower(i) : cluster.leader.url}/internal/dump`, method: "GET" }),
    () => ({ url: `${cluster.leader.url}/admin/config`, method: "PUT", body: JSON.stringify({ writeQuorum: 0, minDelayMs: 5000, maxDelayMs: 5000 }) }),
  ];
}

const noToken = (i: number): Record<string, string> =>
  [{}, { authorization: "" }, { authorization: "Bearer" }, { authorization: "Bearer " }, { authorization: "Basic Og==" }][i % 5]!;

function wrongToken(i: number): Record<string, string> {
  const token = cluster.token;
  const variants = [
    () => `${token.slice(0, -1)}${token.endsWith("0") ? "1" : "0"}`, // last character differs
    () => token.slice(0, -1), // one shorter
    () => `${token}0`, // one longer
    () => token.toUpperCase(),
    () => (generateToken() + generateToken()).slice(0, 1 + (i % 64)), // random, of every length 1..64
    () => `${token} ${token}`,
  ];
  return { authorization: `Bearer ${variants[i % variants.length]!()}` };
}

/** Tokens that really belong to other clusters (same format, same generator). */
const otherClusterTokens = Array.from({ length: 7 }, generateToken);
const otherClusterToken = (i: number) => ({ authorization: `Bearer ${otherClusterTokens[i % otherClusterTokens.length]}` });

async function attempt(count: number, headersFor: (i: number) => Record<string, string>) {
  const before = await clusterView();
  const targets = attacks(before.nodes[0]!.epoch, Math.max(...before.nodes.map((n) => n.lastOffset)));
  const statuses = new Map<number, number>();
  let next = 0;
  const sender = async () => {
    while (next < count) {
      const i = next++;
      const { url, method, body } = targets[i % targets.length]!(i);
      const response = await fetch(url, {
        method,
        body,
        headers: { "content-type": "application/json", ...headersFor(i) },
        signal: AbortSignal.timeout(10_000),
      });
      const answer = (await response.json()) as { error?: string; message?: string };
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      if (response.status !== 401 || answer.error !== "unauthorized" || typeof answer.message !== "string") {
        throw new Error(`${method} ${url} with ${JSON.stringify(headersFor(i))} answered ${response.status} ${JSON.stringify(answer)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, sender));
  expect([...statuses.entries()]).toEqual([[401, count]]);
  expect(await clusterView()).toEqual(before);
}

describe("internal and admin routes refuse strangers", () => {
  test("1,000 attempts with no token: all 401, no state change anywhere", async () => {
    await attempt(1000, noToken);
  });

  test("1,000 attempts with a wrong token (last character, length, case, random): all 401, no state change", async () => {
    await attempt(1000, wrongToken);
  });

  test("1,000 attempts with another cluster's token: all 401, no state change", async () => {
    await attempt(1000, otherClusterToken);
  });
});

describe("with the right token, an older epoch is fenced", () => {
  test("replicate and snapshot messages from an older epoch get 409 stale_epoch on every follower and are applied nowhere", async () => {
    const before = await clusterView();
    const epoch = before.nodes[0]!.epoch;
    for (const follower of cluster.followers) {
      const { lastOffset } = (await http(`${follower.url}/internal/digest`, { token: cluster.token })).body;
      const replicate = {
        epoch: epoch - 1,
        leaderId: "old-leader",
        prevOffset: lastOffset,
        prevEpoch: epoch - 1,
        entries: [{ offset: lastOffset + 1, epoch: epoch - 1, key: "seed-0", value: '"stale"' }],
        commitOffset: lastOffset + 1,
      };
      expect(await http(`${follower.url}/internal/replicate`, { method: "POST", token: cluster.token, json: replicate })).toEqual({
        status: 409,
        body: { error: "stale_epoch", message: expect.any(String), epoch, nodeId: expect.any(String) },
      });
      const snapshot = {
        epoch: epoch - 1,
        leaderId: "old-leader",
        snapshotOffset: lastOffset + 5,
        snapshotEpoch: epoch - 1,
        chunk: 0,
        pairs: [["seed-0", '"stale"', 1]],
        done: true,
        commitOffset: lastOffset + 5,
      };
      expect(await http(`${follower.url}/internal/snapshot`, { method: "POST", token: cluster.token, json: snapshot })).toMatchObject({
        status: 409,
        body: { error: "stale_epoch", epoch },
      });
    }
    expect(await clusterView()).toEqual(before);
    // The real leader is unaffected: its next write commits and replicates.
    expect((await http(`${cluster.leader.url}/kv/seed-0`, { method: "PUT", json: { value: "after" } })).status).toBe(200);
    await expectConverged(cluster);
    for (const follower of cluster.followers) expect((await http(`${follower.url}/kv/seed-0`)).body.value).toBe("after");
  });

  test("garbage with the right token is a 400 invalid_message, never a 500, and changes nothing", async () => {
    const before = await clusterView();
    const follower = cluster.followers[0]!.url;
    const bodies = [
      "{}",
      "[]",
      "null",
      '{"epoch":"1"}',
      JSON.stringify({ epoch: before.nodes[1]!.epoch, leaderId: "x", prevOffset: -1, prevEpoch: 0, entries: [], commitOffset: 0 }),
    ];
    for (const route of ["/internal/replicate", "/internal/snapshot"]) {
      for (const body of bodies) {
        expect(await http(`${follower}${route}`, { method: "POST", token: cluster.token, body })).toMatchObject({
          status: 400,
          body: { error: "invalid_message" },
        });
      }
      expect(await http(`${follower}${route}`, { method: "POST", token: cluster.token, body: "{not json" })).toMatchObject({
        status: 400,
        body: { error: "invalid_json" },
      });
    }
    expect(await clusterView()).toEqual(before);
    expect((await http(`${follower}/health`)).status).toBe(200);
  });
});
