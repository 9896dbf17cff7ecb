import { afterAll, beforeAll, expect, test } from "bun:test";
import { checkRegister, type Operation } from "../../src/sim/linearizability.ts";
import { waitFor } from "../helpers.ts";
import { type Host, NetnsUnavailable, ourNamespaces } from "./netns.ts";
import { PeerCluster, urlOf } from "./peer-cluster.ts";

// Failover across partial and one-way partitions (docs/failover.md): five PEERS nodes, each in a
// network namespace of its own, WRITE_QUORUM 2 (an election needs 3 promises). The tests run in
// order on one cluster, each on a key of its own, and each heals what it cut: a follower cut off
// and healed, the leader cut off from a majority but not from all, and the leader's packets to
// every follower dropped while theirs still reach it. Each client history must be linearizable.
// Root only, as partitions.test.ts.

const cluster = new PeerCluster();
const electionTimeoutMs = 500;
let setupError: Error | undefined;

beforeAll(async () => {
  try {
    await cluster.start(5, {
      CLUSTER_TOKEN: "netns-partial-token",
      WRITE_QUORUM: "2",
      QUORUM_TIMEOUT_MS: "1000",
      ELECTION_TIMEOUT_MS: String(electionTimeoutMs),
    });
  } catch (error) {
    setupError = error instanceof NetnsUnavailable ? error : new Error(`setting up the namespaces failed: ${(error as Error).message}`);
  }
}, 60_000);

afterAll(async () => {
  if (setupError instanceof NetnsUnavailable) return;
  await cluster.network.close();
  expect(await ourNamespaces(cluster.network.prefix)).toEqual([]);
});

const others = (host: Host) => cluster.nodes.filter((node) => node !== host);

/** A final read on the leader, then the history's check. */
async function expectLinearizable(leader: Host, key: string, history: Operation[]): Promise<void> {
  expect((await cluster.read(leader, key, history)).status).toBe(200);
  expect(checkRegister(history)).toEqual({ linearizable: true });
}

test("a follower cut off from every peer, then healed, follows again without deposing the leader (same leader, same epoch)", async () => {
  if (setupError) throw setupError;
  const history: Operation[] = [];
  const leader = await cluster.leader();
  const epoch = (await cluster.status(leader))!.epoch;
  const follower = others(leader)[0]!;
  expect((await cluster.write(leader, "f", 1, history)).status).toBe(200);
  await cluster.cut(follower, others(follower));
  const cutAtMs = Date.now();
  // Silent for twice the election timeout, it knows no leader; it asks for pre-votes and gets none.
  await waitFor("the cut-off follower to know no leader", async () => (await cluster.status(follower))?.leader === null, 20_000, 100);
  // The leader takes writes meanwhile, for several election timeouts: time enough for the cut-off
  // node to stand more than once, had it stood without pre-votes (its epoch would then depose the leader).
  for (let value = 2; Date.now() - cutAtMs < 6 * electionTimeoutMs; value++) expect((await cluster.write(leader, "f", value, history)).status).toBe(200);
  expect((await cluster.status(follower))!.epoch).toBe(epoch);
  await cluster.heal(follower, others(follower));
  await waitFor("the follower to follow the leader again", async () => (await cluster.status(follower))?.leader === urlOf(leader), 20_000, 100);
  expect(await cluster.status(leader)).toMatchObject({ role: "leader", epoch });
  expect((await cluster.status(follower))!.epoch).toBe(epoch);
  await expectLinearizable(leader, "f", history);
  await cluster.converged(leader);
}, 90_000);

test("the leader cut off from a majority but not from all: the majority elects; the old leader acknowledges nothing; healed, one leader", async () => {
  if (setupError) throw setupError;
  const history: Operation[] = [];
  const old = await cluster.leader();
  const [bridge, ...majority] = others(old) as [Host, ...Host[]];
  expect((await cluster.write(old, "m", 1, history)).status).toBe(200);
  // The old leader still reaches one follower (the bridge), which reaches everyone.
  await cluster.cut(old, majority);
  const successor = await waitFor(
    "a leader on the majority side",
    async () => {
      for (const node of majority) if ((await cluster.status(node))?.role === "leader") return node;
      return null;
    },
    20_000,
    100,
  );
  expect((await cluster.write(successor, "m", 2, history)).status).toBe(200);
  // With one follower left it cannot gather W = 2, and the bridge, fenced, answers it stale_epoch.
  const attempts = await Promise.all([cluster.write(old, "m", 3, history), cluster.write(old, "m", 4, history)]);
  for (const attempt of attempts) expect(attempt.status).not.toBe(200);
  expect((await cluster.write(successor, "m", 5, history)).status).toBe(200);
  expect((await cluster.status(bridge))!.leader).toBe(urlOf(successor));
  await cluster.heal(old, majority);
  expect(await cluster.leader()).toBe(successor);
  await expectLinearizable(successor, "m", history);
  await cluster.converged(successor);
}, 90_000);

test("one-way cut, the leader's packets to every follower dropped (theirs still reach it): a new leader; the old one acknowledges nothing; healed, it follows", async () => {
  if (setupError) throw setupError;
  const history: Operation[] = [];
  const old = await cluster.leader();
  const epoch = (await cluster.status(old))!.epoch;
  expect((await cluster.write(old, "o", 1, history)).status).toBe(200);
  await cluster.cut(old, others(old), true);
  const successor = await waitFor(
    "a new leader among the followers",
    async () => {
      for (const node of others(old)) if ((await cluster.status(node))?.role === "leader") return node;
      return null;
    },
    20_000,
    100,
  );
  // Nothing the old leader sends arrives: no follower acknowledges, so neither does it. (Over TCP
  // the cut is two-way in effect: the new leader's connections need the old one's SYN-ACK.)
  const attempts = await Promise.all([cluster.write(old, "o", 2, history), cluster.write(old, "o", 3, history)]);
  for (const attempt of attempts) expect(attempt.status).not.toBe(200);
  expect((await cluster.write(successor, "o", 4, history)).status).toBe(200);
  await cluster.heal(old, others(old), true);
  await waitFor(
    "the old leader to follow the new one",
    async () => {
      const status = await cluster.status(old);
      return status?.role === "follower" && status.leader === urlOf(successor) && status.epoch > epoch;
    },
    20_000,
    100,
  );
  expect(await cluster.leader()).toBe(successor);
  expect((await cluster.write(successor, "o", 5, history)).status).toBe(200);
  await expectLinearizable(successor, "o", history);
  await cluster.converged(successor);
}, 90_000);
