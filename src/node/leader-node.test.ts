import { afterEach, expect, test } from "bun:test";
import { inProcessCluster, jsonRequest } from "../in-process-cluster.ts";

let cluster: ReturnType<typeof inProcessCluster> | undefined;
afterEach(() => cluster?.stop());

test("when writes stop, every follower learns the last commit without waiting for a heartbeat", async () => {
  // Heartbeats every 60 s: only the pump's wake-up for a commit no batch carried can tell them in time.
  cluster = inProcessCluster({ env: { HEARTBEAT_MS: "60000" } });
  const response = await cluster.leader.app.request("/kv/a", jsonRequest("PUT", { value: 1 }));
  expect(response.status).toBe(200);
  const { offset } = (await response.json()) as { offset: number };
  // A quorum's answers committed it, after the batch went out: the followers have not heard yet.
  const followers = cluster.followers.map(({ node }) => node);
  const deadlineMs = performance.now() + 5_000;
  while (followers.some((node) => node.commitOffset < offset) && performance.now() < deadlineMs) await Bun.sleep(1);
  expect(followers.map((node) => node.commitOffset)).toEqual(followers.map(() => offset));
});
