import { afterAll, beforeAll, expect, test } from "bun:test";
import fc from "fast-check";
import { type Cluster, generateToken, startCluster } from "../../src/cluster.ts";
import { dump, http } from "../helpers.ts";
import { expectConverged } from "../workload.ts";
import { type Answer, ExpectedState, type FuzzTarget, type Pairs, execute, expectFinalState, formatStats, newStats } from "./oracle.ts";
import { fuzzCase } from "./requests.ts";
import { defaultNodeRuns, fuzzParameters } from "./settings.ts";

/**
 * The same fuzz against real processes over HTTP (1 leader + 5 followers on free ports): Bun's
 * own parsing, the body limits on a socket, keep-alive after refusals. The cluster lives for
 * the whole run, so the expected state carries over from one sequence to the next.
 */

let cluster: Cluster;
const initialConfig = { writeQuorum: 3, minDelayMs: 0, maxDelayMs: 1 };
beforeAll(async () => {
  cluster = await startCluster({ followers: 5, ...initialConfig });
});
afterAll(async () => {
  await cluster?.stop();
});

/**
 * Bun answers a request line + headers over 16 KiB itself (431, no body, connection closed;
 * test/hardening covers it), so requests here stay below that with room for fetch's own headers.
 */
const headBytesMax = 14 * 1024;

function realTarget(): FuzzTarget {
  const follower = cluster.followers[0]!;
  const urlOf = (role: "leader" | "follower") => (role === "leader" ? cluster.leader.url : follower.url);
  const pairsOf = async (url: string): Promise<Pairs> => {
    const pairs: Pairs = new Map();
    for (const [key, stored] of await dump(url, cluster.token)) pairs.set(key, { value: JSON.stringify(stored.value), offset: stored.offset });
    return pairs;
  };
  return {
    async send(to, request): Promise<Answer> {
      const response = await fetch(`${urlOf(to)}${request.path}`, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        redirect: "manual",
        signal: AbortSignal.timeout(15_000),
      });
      return { status: response.status, contentType: response.headers.get("content-type"), text: await response.text() };
    },
    async state(role) {
      const { body } = await http(`${urlOf(role)}/internal/digest`, { token: cluster.token });
      return { epoch: body.epoch, lastOffset: body.lastOffset, digest: body.digest };
    },
    leaderPairs: () => pairsOf(cluster.leader.url),
    async converged() {
      await expectConverged(cluster);
      const leaderPairs = await pairsOf(cluster.leader.url);
      for (const f of cluster.followers) expect(await pairsOf(f.url)).toEqual(leaderPairs);
    },
  };
}

test("fuzzing every route on a real leader and follower: 2xx or JSON 4xx, never 5xx; the processes stay up", async () => {
  const pids = cluster.nodes.map((node) => node.pid);
  const target = realTarget();
  const model = new ExpectedState({ ...initialConfig });
  const stats = newStats();
  const cases = fc.array(fuzzCase({ token: cluster.token, otherClusterToken: generateToken(), headerBytesMax: 8 * 1024, headBytesMax }), {
    minLength: 1,
    maxLength: 20,
    size: "max",
  });
  await fc.assert(
    fc.asyncProperty(cases, async (sequence) => {
      for (const fuzz of sequence) await execute(target, model, fuzz, stats);
      await expectFinalState(target, model);
    }),
    fuzzParameters("FUZZ_NODE_RUNS", defaultNodeRuns),
  );
  console.log(formatStats("real-node fuzz", stats));
  expect(stats.writes).toBeGreaterThan(0);
  for (const node of cluster.nodes) {
    expect(node.running).toBe(true);
    expect((await http(`${node.url}/health`)).status).toBe(200);
  }
  expect(cluster.nodes.map((node) => node.pid)).toEqual(pids);
});
