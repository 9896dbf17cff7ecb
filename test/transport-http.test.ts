import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Cluster, startCluster } from "../src/cluster.ts";
import { http, waitFor } from "./helpers.ts";

// TRANSPORT=http: the leader replicates with one fetch per message to POST /internal/replicate
// instead of the /internal/stream WebSocket. The same cluster behaviour, end to end.

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ followers: 2, writeQuorum: 2, env: { TRANSPORT: "http" } });
});
afterAll(async () => {
  await cluster?.stop();
});

test("with TRANSPORT=http writes commit with the quorum's acks and every follower converges", async () => {
  const status = await http(`${cluster.leader.url}/status`);
  expect(status.body.transport).toBe("http");
  for (let i = 0; i < 20; i++) {
    const written = await http(`${cluster.leader.url}/kv/k${i % 5}`, { method: "PUT", json: { value: i } });
    expect(written).toMatchObject({ status: 200, body: { offset: i + 1, acks: 2 } });
  }
  const leaderDigest = (await http(`${cluster.leader.url}/internal/digest`, { token: cluster.token })).body;
  for (const follower of cluster.followers) {
    await waitFor(
      `${follower.id} to apply 20`,
      async () => (await http(`${follower.url}/internal/digest`, { token: cluster.token })).body.appliedOffset === 20,
    );
    expect((await http(`${follower.url}/internal/digest`, { token: cluster.token })).body.digest).toBe(leaderDigest.digest);
  }
});
