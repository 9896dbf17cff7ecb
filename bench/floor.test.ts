import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { withFloorCluster } from "./lib/floor-cluster.ts";

const put = (url: string, key: string, body: string, signal?: AbortSignal) =>
  fetch(`${url}/kv/${key}`, { method: "PUT", headers: { "content-type": "application/json" }, body, signal });

// bench:floor compares quorumkv with this skeleton: it must really replicate, store and wait for
// its quorum, or the floor it reports is lower than the design allows.
test("the floor skeleton stores a write on every node and answers only once its quorum holds it", async () => {
  await withFloorCluster({ followers: 3, quorum: 2, storage: "fsync" }, async (cluster) => {
    const first = await put(cluster.leaderUrl, "a", JSON.stringify({ value: "x" }));
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ offset: 1, acks: 2 });
    for (const file of ["leader", "follower-0", "follower-1", "follower-2"]) expect(readFileSync(join(cluster.dir, file), "utf8")).toContain('"key":"a"');

    const refused = await put(cluster.leaderUrl, "a", JSON.stringify({ value: 1 }));
    expect(refused.status).toBe(400);

    // One of three followers gone: two still make the quorum (a skeleton waiting for all would hang here).
    process.kill(cluster.pids[1]!, "SIGKILL");
    const second = await put(cluster.leaderUrl, "b", JSON.stringify({ value: "y" }), AbortSignal.timeout(5_000));
    expect(await second.json()).toEqual({ offset: 2, acks: 2 });

    // Two gone: quorum 2 cannot be reached, and the write stays unanswered while the leader lives.
    process.kill(cluster.pids[2]!, "SIGKILL");
    await expect(put(cluster.leaderUrl, "c", JSON.stringify({ value: "z" }), AbortSignal.timeout(500))).rejects.toThrow(/timed out|abort/i);
    expect((await fetch(`${cluster.leaderUrl}/health`)).status).toBe(200);
  });
}, 20_000);
