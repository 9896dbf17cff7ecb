import { startCluster } from "../../src/cluster.ts";
import { parseToolFlags } from "../../src/flags.ts";
import { checkRegister } from "../../src/sim/linearizability.ts";
import { waitFor } from "../helpers.ts";
import { clientLoad, PeerClient } from "./peer-client.ts";

// The failover window of a PEERS cluster under load (docs/failover.md): kill -9 the leader `kills`
// times; each window runs from the last write the old leader acknowledged to the first the new one
// did. Prints every window, the median, and whether the client history stayed linearizable.
// `bun test/failover/window.ts --kills 10 --write-quorum 3` (`bun run failover` is the full benchmark).

const values = parseToolFlags("window", "bun test/failover/window.ts [--kills 10] [--write-quorum 3] [--clients 20] [--election-timeout-ms 500]", {
  kills: { type: "number", default: 10, integer: true, min: 1, max: 1000, help: "leader kills" },
  writeQuorum: { type: "number", default: 3, integer: true, min: 1, max: 5, help: "WRITE_QUORUM" },
  clients: { type: "number", default: 20, integer: true, min: 1, max: 200, help: "concurrent clients" },
  electionTimeoutMs: { type: "number", default: 500, integer: true, min: 10, max: 60_000, help: "ELECTION_TIMEOUT_MS" },
});

const cluster = await startCluster({ peers: true, writeQuorum: values.writeQuorum, env: { ELECTION_TIMEOUT_MS: String(values.electionTimeoutMs) } });
const client = PeerClient.of(cluster);
const load = clientLoad(client, { count: values.clients, keys: 20 });
const windowsMs: number[] = [];
try {
  for (let kill = 0; kill < values.kills; kill++) {
    const before = client.acks.length;
    await waitFor("writes before the kill", () => client.acks.length >= before + 200, 30_000);
    const leaderUrl = client.leaderUrl;
    const leader = cluster.nodes.find((node) => node.url === leaderUrl)!;
    await leader.stop("SIGKILL");
    const killedAtMs = performance.now();
    const first = await waitFor("a new leader's first ack", () => client.acks.find((ack) => ack.atMs > killedAtMs && ack.url !== leaderUrl), 30_000);
    const last = client.acks.filter((ack) => ack.url === leaderUrl && ack.atMs <= killedAtMs).at(-1)!;
    windowsMs.push(first.atMs - last.atMs);
    console.log(`kill ${kill + 1}: ${leaderUrl} → ${first.url}: window ${(first.atMs - last.atMs).toFixed(0)} ms`);
    await leader.start();
  }
} finally {
  await load.stop();
}
for (const key of client.history.keys()) await client.get(key);
const broken = [...client.history].filter(([, ops]) => !checkRegister(ops).linearizable).map(([key]) => key);
await cluster.stop();
const sorted = windowsMs.toSorted((a, b) => a - b);
const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
console.log(
  JSON.stringify({
    writeQuorum: values.writeQuorum,
    kills: values.kills,
    windowsMs: windowsMs.map(Math.round),
    medianMs: Math.round(median),
    maxMs: Math.round(sorted.at(-1)!),
    acknowledged: client.acks.length,
    linearizable: broken.length === 0,
    nonLinearizableKeys: broken,
  }),
);
process.exit(broken.length === 0 ? 0 : 1);
