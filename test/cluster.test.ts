import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Cluster, startCluster } from "../src/cluster.ts";
import { dump, http, waitFor } from "./helpers.ts";

// One real cluster (6 processes on free ports, the default simulated delay) for this file.
let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ followers: 5, writeQuorum: 3 });
});
afterAll(async () => {
  await cluster?.stop();
});

const put = (key: string, value: unknown, query = "") =>
  http(`${cluster.leader.url}/kv/${encodeURIComponent(key)}${query}`, { method: "PUT", json: { value } });
const admin = (writeQuorum: number) => http(`${cluster.leader.url}/admin/config`, { method: "PUT", token: cluster.token, json: { writeQuorum } });
const digestOf = async (url: string) => (await http(`${url}/internal/digest`, { token: cluster.token })).body;

describe("replication over HTTP", () => {
  test("a write is readable on the leader, then on all five followers at the same offset", async () => {
    const written = await put("greeting", "hello");
    expect(written.status).toBe(200);
    expect(written.body.acks).toBeGreaterThanOrEqual(3);
    const offset = written.body.offset;
    expect(await http(`${cluster.leader.url}/kv/greeting`)).toEqual({ status: 200, body: { key: "greeting", value: "hello", offset } });
    for (const follower of cluster.followers) {
      const read = await waitFor(`${follower.id} to serve greeting`, async () => {
        const answer = await http(`${follower.url}/kv/greeting`);
        return answer.status === 200 ? answer : null;
      });
      expect(read.body).toEqual({ key: "greeting", value: "hello", offset });
    }
  });

  test("200 concurrent writes to 10 shared keys leave every follower with the leader's values and digest", async () => {
    // The seed applied replicated writes in arrival order, so a reordered network left followers
    // with older values. Here each key's last write must win everywhere.
    const answers = await Promise.all(Array.from({ length: 200 }, (_, i) => put(`shared-${i % 10}`, { writer: i })));
    expect(answers.every((answer) => answer.status === 200)).toBe(true);
    const lastOffset = Math.max(...answers.map((answer) => answer.body.offset));
    const lastWriter = new Map<string, number>();
    answers.forEach((answer, i) => {
      const key = `shared-${i % 10}`;
      const previous = lastWriter.get(key);
      if (previous === undefined || answer.body.offset > answers[previous]!.body.offset) lastWriter.set(key, i);
    });
    const leaderDigest = await digestOf(cluster.leader.url);
    const leaderDump = await dump(cluster.leader.url, cluster.token);
    for (const [key, writer] of lastWriter) expect(leaderDump.get(key)?.value).toEqual({ writer });
    for (const follower of cluster.followers) {
      await waitFor(`${follower.id} to apply ${lastOffset}`, async () => (await digestOf(follower.url)).appliedOffset >= lastOffset);
      expect((await digestOf(follower.url)).digest).toBe(leaderDigest.digest);
      expect(await dump(follower.url, cluster.token)).toEqual(leaderDump);
    }
  });

  test("a write is answered at its k-th acknowledgement: the answer's acks is exactly the quorum asked for", async () => {
    expect((await admin(1)).status).toBe(200);
    try {
      // One write at a time: nothing earlier holds a write back, so each answer comes with the
      // reply that made the count reach k (waiting for more, or answering at the commit quorum
      // only, shows here).
      for (let quorum = 1; quorum <= 5; quorum++) {
        for (let i = 0; i < 4; i++) {
          const written = await put(`kth-${quorum}-${i}`, i, `?quorum=${quorum}`);
          expect(written.status).toBe(200);
          expect(written.body.acks).toBe(quorum);
        }
      }
    } finally {
      expect((await admin(3)).status).toBe(200);
    }
  });

  test("quorum 5 with a follower down: 503 within the timeout, not visible, then committed when it returns", async () => {
    expect((await admin(5)).status).toBe(200);
    const down = cluster.followers[4]!;
    await down.stop("SIGKILL");
    try {
      const started = performance.now();
      const refused = await put("needs-five", "v", "?timeoutMs=800");
      const elapsedMs = performance.now() - started;
      expect(refused.status).toBe(503);
      expect(refused.body).toMatchObject({ error: "quorum_timeout", acks: 4, required: 5, key: "needs-five" });
      expect(elapsedMs).toBeGreaterThanOrEqual(790); // it waited for its quorum rather than failing early
      // Not committed, so nobody may see it.
      expect((await http(`${cluster.leader.url}/kv/needs-five`)).status).toBe(404);
      expect((await http(`${cluster.followers[0]!.url}/kv/needs-five`)).status).toBe(404);
      await down.start(); // it comes back empty and is caught up from offset 1
      const committed = await waitFor("the write to commit", async () => {
        const read = await http(`${cluster.leader.url}/kv/needs-five`);
        return read.status === 200 ? read : null;
      });
      expect(committed.body).toEqual({ key: "needs-five", value: "v", offset: refused.body.offset });
      const onReturned = await http(`${down.url}/kv/needs-five?minOffset=${refused.body.offset}`);
      expect(onReturned.body.value).toBe("v");
    } finally {
      if (!down.running) await down.start();
      await admin(3);
    }
  });
});

describe("refusals over HTTP", () => {
  test("writes to a follower get 421 with the leader's URL", async () => {
    const answer = await http(`${cluster.followers[1]!.url}/kv/x`, { method: "PUT", json: { value: 1 } });
    expect(answer).toEqual({ status: 421, body: { error: "not_leader", message: expect.any(String), leader: cluster.leader.url } });
  });

  test("internal and admin routes need the token", async () => {
    expect((await http(`${cluster.followers[0]!.url}/internal/replicate`, { method: "POST", json: {} })).status).toBe(401);
    expect((await http(`${cluster.leader.url}/internal/dump`, { token: "not-the-cluster-token" })).status).toBe(401);
    expect((await http(`${cluster.leader.url}/admin/config`, { method: "PUT", json: { writeQuorum: 0 } })).status).toBe(401);
  });

  test("bad inputs get their 4xx and change no state", async () => {
    const before = await digestOf(cluster.leader.url);
    const bad: [string, RequestInit, number, string][] = [
      ["/kv/k", { method: "PUT", body: "{not json" }, 400, "invalid_json"],
      ["/kv/k%01", { method: "PUT", body: '{"value":1}' }, 400, "invalid_key"],
      ["/kv/k?quorum=9", { method: "PUT", body: '{"value":1}' }, 400, "invalid_quorum"],
      ["/set", { method: "POST", body: '{"key":"k"}' }, 400, "invalid_value"],
      ["/kv/k", { method: "PUT", body: JSON.stringify({ value: "x".repeat(2 * 1024 * 1024) }) }, 413, "payload_too_large"],
    ];
    for (const [path, init, status, code] of bad) {
      const answer = await http(`${cluster.leader.url}${path}`, init);
      expect({ path, status: answer.status, code: answer.body.error }).toEqual({ path, status, code });
    }
    expect(await digestOf(cluster.leader.url)).toEqual(before);
  });
});

describe("process level", () => {
  test("invalid config prints one line naming the variable and exits 2 before listening", async () => {
    const child = Bun.spawn([process.execPath, "src/main.ts"], {
      env: { ...process.env, ROLE: "leader", CLUSTER_TOKEN: "0123456789", FOLLOWERS: "http://127.0.0.1:1", WRITE_QUORUM: "2" },
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(await child.exited).toBe(2);
    const stderr = await new Response(child.stderr).text();
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toContain("WRITE_QUORUM");
    expect(await new Response(child.stdout).text()).not.toContain("listening");
  });

  test("--help prints every setting and exits 0", async () => {
    const child = Bun.spawn([process.execPath, "src/main.ts", "--help"], { stdout: "pipe", stderr: "pipe" });
    expect(await child.exited).toBe(0);
    const help = await new Response(child.stdout).text();
    for (const name of ["ROLE", "FOLLOWERS", "WRITE_QUORUM", "CLUSTER_TOKEN", "MAX_VALUE_BYTES"]) expect(help).toContain(name);
  });
});
