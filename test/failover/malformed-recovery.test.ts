import { afterEach, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { freePort } from "../../src/cluster.ts";
import { http, waitFor } from "../helpers.ts";

// Recovery data comes from peers, which are trusted only as far as the protocol allows: data no
// honest follower sends (an offset gap among its entries, a key twice among its pairs) must cost
// the candidate that source, not its process (found in review: an assertion in a transport
// callback, and Bun exits on an unhandled rejection).

const token = "test-token-0123456789";
let node: Subprocess | null = null;
const servers: ReturnType<typeof Bun.serve>[] = [];
afterEach(async () => {
  node?.kill("SIGKILL");
  await node?.exited;
  node = null;
  for (const server of servers.splice(0)) server.stop(true);
});

/** A peer that answers a fence as the most advanced follower, then sends `lines` as its recovery data. */
function dishonestPeer(port: number, lines: unknown[]) {
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      if (path === "/internal/fence") {
        // A promise of the epoch asked for: the epoch it had seen is the one before.
        const { epoch } = (await request.json()) as { epoch: number };
        // As far as the data's counts go, it reaches the position claimed.
        const { appliedOffset, entries } = lines[0] as { appliedOffset: number; entries: number };
        const position = { lastOffset: appliedOffset + entries, lastEntryEpoch: 0, appliedOffset };
        return Response.json({ epoch: epoch - 1, ...position, writeQuorumFloor: null, writeQuorum: null, nodeId: `p${port}` });
      }
      if (path === "/internal/recover") return new Response(`${lines.map((line) => JSON.stringify(line)).join("\n")}\n`);
      return Response.json({ error: "not_found" }, { status: 404 });
    },
  });
  servers.push(server);
}

const entry = (offset: number) => ({ offset, epoch: 0, key: `k${offset}`, value: `"${offset}"` });
const cases = {
  "an offset gap among its entries": [{ epoch: 0, appliedOffset: 0, appliedEpoch: 0, pairs: 0, entries: 2 }, entry(1), entry(3)],
  "a key twice among its pairs": [{ epoch: 0, appliedOffset: 2, appliedEpoch: 0, pairs: 2, entries: 1 }, ["k", '"1"', 1], ["k", '"2"', 2], entry(3)],
  "a pair newer than its snapshot": [{ epoch: 0, appliedOffset: 1, appliedEpoch: 0, pairs: 1, entries: 2 }, ["k", '"1"', 2], entry(2), entry(3)],
};

for (const [what, lines] of Object.entries(cases)) {
  test(`a candidate sent recovery data with ${what} refuses that source and keeps running`, async () => {
    const ports = [freePort(), freePort(), freePort()];
    const urls = ports.map((port) => `http://127.0.0.1:${port}`);
    dishonestPeer(ports[1]!, lines);
    dishonestPeer(ports[2]!, lines);
    node = Bun.spawn([process.execPath, "src/main.ts"], {
      env: { ...process.env, ROLE: "follower", CLUSTER_TOKEN: token, PORT: String(ports[0]), PEERS: urls.join(","), ADVERTISE_URL: urls[0], WRITE_QUORUM: "1" },
      stdout: "ignore",
      stderr: "ignore",
    });
    await waitFor("the node to answer", async () => (await http(`${urls[0]}/status`)).status === 200);
    // Forced: one round of fences, then the most advanced log, which the dishonest peers claim.
    void http(`${urls[0]}/admin/promote`, { method: "POST", token }).catch(() => null);
    // Long enough for the fence, the fetch and a retry or two; a process that died stops answering.
    const deadline = performance.now() + 1500;
    while (performance.now() < deadline) {
      expect(node.exitCode).toBeNull();
      expect((await http(`${urls[0]}/status`)).status).toBe(200);
      await Bun.sleep(50);
    }
  }, 20_000);
}
