import { afterEach, expect, test } from "bun:test";
import { freePort } from "../../cluster.ts";
import { inProcessCluster } from "../../in-process-cluster.ts";
import { realClock } from "../../node/env.ts";
import { NodeMetrics } from "../../node/metrics.ts";
import { ClusterViewer, peerTimeoutMs } from "./cluster-view.ts";

let cluster: ReturnType<typeof inProcessCluster> | undefined;
afterEach(() => cluster?.stop());

test("peers that do not answer are down, with why; one gathering serves every poll while it runs", async () => {
  // The in-process followers have no sockets: to the viewer they are unreachable peers.
  cluster = inProcessCluster({ followers: 2 });
  const viewer = new ClusterViewer(cluster.leader.node, new NodeMetrics(realClock));
  const first = viewer.view();
  expect(viewer.view()).toBe(first);
  const view = await first;
  expect(view.nodes.map((n) => [n.role, n.health, n.self])).toEqual([
    ["leader", "healthy", true],
    ["follower", "down", false],
    ["follower", "down", false],
  ]);
  expect(view.nodes.map((n) => n.id)).toEqual(["leader", expect.stringMatching(/^follower1/), expect.stringMatching(/^follower2/)]);
  expect(view.nodes[1]!.problem).toBe("unreachable");
});

test("a peer that accepts but never answers is down after peerTimeoutMs", async () => {
  const port = freePort();
  // Accepts connections and reads, never answers: a paused process as the network sees it.
  const silent = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
  try {
    cluster = inProcessCluster({ followers: 1 });
    const leader = cluster.leader.node;
    // The leader as it is, but naming the silent listener as its follower.
    const naming = Object.assign(Object.create(leader), {
      status: () => ({ ...leader.status(), followers: [{ id: "silent", url: `http://127.0.0.1:${port}` }] }),
    });
    const viewer = new ClusterViewer(naming, new NodeMetrics(realClock));
    const startedMs = performance.now();
    const view = await viewer.view();
    expect(performance.now() - startedMs).toBeGreaterThanOrEqual(peerTimeoutMs - 50);
    expect(view.nodes[1]).toMatchObject({ id: "silent", health: "down", problem: `no answer within ${peerTimeoutMs} ms` });
  } finally {
    silent.stop(true);
  }
});
