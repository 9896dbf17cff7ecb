import { expect, test } from "bun:test";
import fc from "fast-check";
import { generateToken } from "../../src/cluster.ts";
import { waitFor } from "../helpers.ts";
import { inProcessCluster, testToken } from "../../src/in-process-cluster.ts";
import { type Answer, ExpectedState, type FuzzTarget, type Pairs, execute, expectFinalState, formatStats, newStats } from "./oracle.ts";
import { fuzzCase } from "./requests.ts";
import { defaultRequestRuns, fuzzParameters } from "./settings.ts";

/**
 * Every route through `app.request` (no sockets): each run is a fresh in-process cluster (1
 * leader, 5 followers) and a sequence of up to 40 hostile requests; the default setting sends
 * about 12,000 (FUZZ_RUNS raises it, see settings.ts).
 */

type Cluster = ReturnType<typeof inProcessCluster>;

function pairsOf(node: Cluster["leader"]["node"] | Cluster["followers"][number]["node"]): Pairs {
  const pairs: Pairs = new Map();
  for (const [key, stored] of node.state.entries()) pairs.set(key, { value: stored.value, offset: stored.offset });
  return pairs;
}

function inProcessTarget(cluster: Cluster): FuzzTarget {
  const follower = cluster.followers[0]!;
  return {
    async send(to, request): Promise<Answer> {
      const app = to === "leader" ? cluster.leader.app : follower.app;
      const response = await app.request(request.path, { method: request.method, headers: request.headers, body: request.body });
      return { status: response.status, contentType: response.headers.get("content-type"), text: await response.text() };
    },
    async state(role) {
      const node = role === "leader" ? cluster.leader.node : follower.node;
      return { epoch: node.epoch, lastOffset: node.lastOffset, digest: node.state.digest().digest };
    },
    async leaderPairs() {
      return pairsOf(cluster.leader.node);
    },
    async converged() {
      const leader = cluster.leader.node;
      await waitFor(
        "followers to apply the leader's commit offset",
        () => cluster.followers.every((f) => f.node.state.appliedOffset === leader.commitOffset),
        10_000,
        1,
      );
      const expected = pairsOf(leader);
      for (const f of cluster.followers) {
        expect(f.node.state.digest()).toEqual(leader.state.digest());
        expect(pairsOf(f.node)).toEqual(expected);
      }
    },
  };
}

test("fuzzing every route in process: 2xx or JSON 4xx, never 5xx; state changes only by valid writes", async () => {
  const stats = newStats();
  const cases = fc.array(fuzzCase({ token: testToken, otherClusterToken: generateToken(), headerBytesMax: 64 * 1024 }), {
    minLength: 1,
    maxLength: 40,
    size: "max",
  });
  await fc.assert(
    fc.asyncProperty(cases, async (sequence) => {
      const cluster = inProcessCluster();
      try {
        // Followers learn the leader's epoch from its first message; after that it must not move.
        await waitFor("followers to hear from the leader", () => cluster.followers.every((f) => f.node.epoch === cluster.leader.node.epoch), 10_000, 1);
        const target = inProcessTarget(cluster);
        const model = new ExpectedState({ writeQuorum: 3, minDelayMs: 0, maxDelayMs: 0 });
        for (const fuzz of sequence) await execute(target, model, fuzz, stats);
        await expectFinalState(target, model);
      } finally {
        cluster.stop();
      }
    }),
    fuzzParameters("FUZZ_RUNS", defaultRequestRuns),
  );
  console.log(formatStats("in-process fuzz", stats));
  // Guards the setting itself: the default run must stay a real fuzz, not a token one.
  if (!process.env.FUZZ_RUNS) expect(stats.requests).toBeGreaterThanOrEqual(10_000);
  expect(stats.writes).toBeGreaterThan(0);
});
