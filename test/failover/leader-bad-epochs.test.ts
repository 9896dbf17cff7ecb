import { afterEach, expect, test } from "bun:test";
import { type Cluster, leaderOf, startCluster } from "../../src/cluster.ts";
import { constants } from "../../src/core/constants.ts";
import { http } from "../helpers.ts";

// A leader among PEERS steps down for a newer epoch in a peer's message. It did so before it
// checked the message: a token holder's replicate at epoch 1e999 or E + 0.5, or a fence more than
// epochJumpMax ahead, deposed a healthy leader, then got its 400 (found in review). Bad input
// must change nothing.

let cluster: Cluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

test("a leader among PEERS answers 400 invalid_message to an epoch no peer could announce, and keeps leading", async () => {
  cluster = await startCluster({ peers: true, writeQuorum: 1 });
  const leader = (await leaderOf(cluster.nodes))!;
  const { epoch } = (await http(`${leader.url}/status`)).body as { epoch: number };
  const message = (badEpoch: string) => `{"epoch":${badEpoch},"leaderId":"x","prevOffset":0,"prevEpoch":0,"entries":[],"commitOffset":0}`;
  const attacks: [string, string, string][] = [
    ["replicate at 1e999 (Infinity once parsed)", "/internal/replicate", message("1e999")],
    ["replicate at E + 0.5", "/internal/replicate", message(String(epoch + 0.5))],
    ["snapshot at 2^53", "/internal/snapshot", message("9007199254740992")],
    ["fence beyond epochJumpMax", "/internal/fence", JSON.stringify({ epoch: epoch + constants.epochJumpMax + 1, leaderId: "x" })],
  ];
  for (const [what, path, body] of attacks) {
    const answer = await http(`${leader.url}${path}`, { method: "POST", token: cluster.token, headers: { "content-type": "application/json" }, body });
    expect({ what, status: answer.status, error: answer.body.error }).toEqual({ what, status: 400, error: "invalid_message" });
    expect({ what, status: (await http(`${leader.url}/status`)).body }).toMatchObject({ what, status: { role: "leader", epoch } });
  }
  expect((await http(`${leader.url}/kv/k`, { method: "PUT", json: { value: 1 } })).status).toBe(200);
}, 30_000);
