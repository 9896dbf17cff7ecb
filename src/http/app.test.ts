import { afterEach, describe, expect, test } from "bun:test";
import { auth, inProcessCluster, jsonRequest } from "../in-process-cluster.ts";

let cluster: ReturnType<typeof inProcessCluster>;
afterEach(() => cluster?.stop());

async function call(app: { request: (path: string, init?: RequestInit) => Response | Promise<Response> }, path: string, init?: RequestInit) {
  const response = await app.request(path, init);
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

/** Leader state that a refused request must leave alone. */
const snapshot = () => ({ lastOffset: cluster.leader.node.lastOffset, digest: cluster.leader.node.state.digest() });

describe("client API on the leader", () => {
  test("PUT commits at the quorum; GET returns the value with its offset; followers converge", async () => {
    cluster = inProcessCluster();
    const put = await call(cluster.leader.app, "/kv/greeting", jsonRequest("PUT", { value: { text: "hello", n: [1, 2] } }));
    expect(put).toEqual({ status: 200, body: { key: "greeting", offset: 1, acks: expect.any(Number) } });
    expect(put.body.acks).toBeGreaterThanOrEqual(3);
    expect(await call(cluster.leader.app, "/kv/greeting")).toEqual({
      status: 200,
      body: { key: "greeting", value: { text: "hello", n: [1, 2] }, offset: 1 },
    });
    for (const follower of cluster.followers) {
      const read = await call(follower.app, "/kv/greeting?minOffset=1");
      expect(read.body.value).toEqual({ text: "hello", n: [1, 2] });
    }
  });

  test("keys may hold any character but controls; %2F and / name the same key", async () => {
    cluster = inProcessCluster();
    for (const key of ["a/b", "héllo wörld", "100%", "emoji 🎉", "?#&="]) {
      const path = `/kv/${encodeURIComponent(key)}`;
      expect((await call(cluster.leader.app, path, jsonRequest("PUT", { value: key }))).status).toBe(200);
      expect((await call(cluster.leader.app, path)).body).toMatchObject({ key, value: key });
    }
    expect((await call(cluster.leader.app, "/kv/a/b")).body.value).toBe("a/b");
  });

  test("the seed's POST /set and GET /get behave like PUT and GET", async () => {
    cluster = inProcessCluster();
    const set = await call(cluster.leader.app, "/set", jsonRequest("POST", { key: "k", value: 42 }));
    expect(set).toEqual({ status: 200, body: { key: "k", offset: 1, acks: expect.any(Number) } });
    expect(await call(cluster.leader.app, "/get/k")).toEqual({ status: 200, body: { key: "k", value: 42, offset: 1 } });
  });

  test("DELETE removes the key and is idempotent; a missing key is 404 not_found", async () => {
    cluster = inProcessCluster();
    await call(cluster.leader.app, "/kv/k", jsonRequest("PUT", { value: null }));
    expect((await call(cluster.leader.app, "/kv/k")).body.value).toBeNull(); // null is a value, not absence
    expect((await call(cluster.leader.app, "/kv/k", { method: "DELETE" })).body).toMatchObject({ key: "k", offset: 2 });
    expect((await call(cluster.leader.app, "/kv/k", { method: "DELETE" })).body).toMatchObject({ key: "k", offset: 3 });
    expect(await call(cluster.leader.app, "/kv/k")).toEqual({
      status: 404,
      body: { error: "not_found", message: expect.any(String), key: "k" },
    });
  });

  test("per-request quorum raises the acks a write waits for", async () => {
    cluster = inProcessCluster();
    const put = await call(cluster.leader.app, "/kv/k?quorum=5", jsonRequest("PUT", { value: 1 }));
    expect(put.body.acks).toBe(5);
  });

  test("a write that cannot reach its quorum answers 503 quorum_timeout, then commits when followers return", async () => {
    cluster = inProcessCluster();
    cluster.transport.setDown(cluster.followers[0]!.url, true);
    const started = performance.now();
    const put = await call(cluster.leader.app, "/kv/k?quorum=5&timeoutMs=200", jsonRequest("PUT", { value: 1 }));
    expect(put).toEqual({
      status: 503,
      body: { error: "quorum_timeout", message: expect.any(String), key: "k", offset: 1, acks: 4, required: 5 },
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    // Quorum 3 was met, so the write is committed and visible; the fifth ack arrives on return.
    expect((await call(cluster.leader.app, "/kv/k")).body.value).toBe(1);
    cluster.transport.setDown(cluster.followers[0]!.url, false);
    const deadline = performance.now() + 2000;
    while (cluster.leader.node.core.ackCount(1) < 5 && performance.now() < deadline) await Bun.sleep(5);
    expect(cluster.leader.node.core.ackCount(1)).toBe(5);
  });
});

describe("bad input gets a JSON 4xx and changes nothing", () => {
  const cases: [name: string, path: string, init: RequestInit, status: number, code: string][] = [
    ["malformed JSON", "/kv/k", jsonRequest("PUT", "{value:"), 400, "invalid_json"],
    ["empty body", "/kv/k", jsonRequest("PUT", ""), 400, "invalid_json"],
    ["body without value", "/kv/k", jsonRequest("PUT", { valeu: 1 }), 400, "invalid_value"],
    ["body that is not an object", "/kv/k", jsonRequest("PUT", "[1]"), 400, "invalid_value"],
    ["value nested 65 deep", "/kv/k", jsonRequest("PUT", `{"value":${"[".repeat(65)}${"]".repeat(65)}}`), 400, "invalid_value"],
    ["control character in key", "/kv/a%00b", jsonRequest("PUT", { value: 1 }), 400, "invalid_key"],
    ["DEL in key", "/kv/a%7Fb", jsonRequest("PUT", { value: 1 }), 400, "invalid_key"],
    ["broken percent-encoding", "/kv/%E0%A4%A", jsonRequest("PUT", { value: 1 }), 400, "invalid_key"],
    ["UTF-16 surrogate in key", "/kv/%ED%A0%80", jsonRequest("PUT", { value: 1 }), 400, "invalid_key"],
    ["key over 1024 bytes", `/kv/${"é".repeat(513)}`, jsonRequest("PUT", { value: 1 }), 400, "invalid_key"],
    ["empty key", "/kv/", jsonRequest("PUT", { value: 1 }), 400, "invalid_key"],
    ["quorum above followers", "/kv/k?quorum=6", jsonRequest("PUT", { value: 1 }), 400, "invalid_quorum"],
    ["quorum not a number", "/kv/k?quorum=two", jsonRequest("PUT", { value: 1 }), 400, "invalid_quorum"],
    ["negative timeout", "/kv/k?timeoutMs=-5", jsonRequest("PUT", { value: 1 }), 400, "invalid_timeout"],
    ["set without key", "/set", jsonRequest("POST", { value: 1 }), 400, "invalid_key"],
    ["set with numeric key", "/set", jsonRequest("POST", { key: 5, value: 1 }), 400, "invalid_key"],
    ["body over MAX_VALUE_BYTES", "/kv/k", jsonRequest("PUT", { value: "x".repeat(1024 * 1024) }), 413, "payload_too_large"],
    ["unknown route", "/nope", { method: "GET" }, 404, "not_found"],
  ];
  for (const [name, path, init, status, code] of cases) {
    test(name, async () => {
      cluster = inProcessCluster();
      await call(cluster.leader.app, "/kv/existing", jsonRequest("PUT", { value: "kept" }));
      const before = snapshot();
      const answer = await call(cluster.leader.app, path, init);
      expect(answer.status).toBe(status);
      expect(answer.body).toMatchObject({ error: code, message: expect.any(String) });
      expect(snapshot()).toEqual(before);
    });
  }

  test("a minOffset that is not a whole number is refused", async () => {
    cluster = inProcessCluster();
    expect(await call(cluster.followers[0]!.app, "/kv/k?minOffset=abc")).toMatchObject({ status: 400, body: { error: "invalid_offset" } });
  });
});

describe("roles and tokens", () => {
  test("writes to a follower get 421 with the leader's URL and change nothing", async () => {
    cluster = inProcessCluster();
    const follower = cluster.followers[0]!;
    for (const [path, init] of [
      ["/kv/k", jsonRequest("PUT", { value: 1 })],
      ["/kv/k", { method: "DELETE" }],
      ["/set", jsonRequest("POST", { key: "k", value: 1 })],
    ] as const) {
      expect(await call(follower.app, path, init)).toEqual({
        status: 421,
        body: { error: "not_leader", message: expect.any(String), leader: "http://leader.test" },
      });
    }
    expect(follower.node.lastOffset).toBe(0);
  });

  test("internal and admin routes refuse a missing, wrong or malformed token", async () => {
    cluster = inProcessCluster();
    const message = { epoch: 99, leaderId: "intruder", prevOffset: 0, entries: [{ offset: 1, epoch: 99, key: "k", value: "1" }], commitOffset: 1 };
    const attempts: Record<string, string>[] = [{}, { authorization: "Bearer wrong-token-0000" }, { authorization: "Basic abc" }, { authorization: "Bearer" }];
    for (const headers of attempts) {
      const replicate = await call(cluster.followers[0]!.app, "/internal/replicate", jsonRequest("POST", message, headers));
      expect(replicate).toMatchObject({ status: 401, body: { error: "unauthorized" } });
      expect((await call(cluster.followers[0]!.app, "/internal/digest", { headers })).status).toBe(401);
      expect((await call(cluster.leader.app, "/admin/config", jsonRequest("PUT", { writeQuorum: 0 }, headers))).status).toBe(401);
    }
    expect(cluster.followers[0]!.node.lastOffset).toBe(0);
    expect(cluster.followers[0]!.node.epoch).toBe(cluster.leader.node.epoch); // not the intruder's 99
    expect(cluster.leader.node.core.writeQuorum).toBe(3);
  });

  test("PUT /admin/config changes quorum and delay at run time, and validates them", async () => {
    cluster = inProcessCluster();
    expect(await call(cluster.leader.app, "/admin/config", jsonRequest("PUT", { writeQuorum: 5, minDelayMs: 0, maxDelayMs: 1 }, auth))).toEqual({
      status: 200,
      body: { writeQuorum: 5, minDelayMs: 0, maxDelayMs: 1 },
    });
    expect((await call(cluster.leader.app, "/kv/k", jsonRequest("PUT", { value: 1 }))).body.acks).toBe(5);
    for (const bad of [{ writeQuorum: 6 }, { minDelayMs: 5 }, { writeQuorum: 1.5 }, { bogus: 1 }]) {
      expect(await call(cluster.leader.app, "/admin/config", jsonRequest("PUT", bad, auth))).toMatchObject({
        status: 400,
        body: { error: "invalid_config" },
      });
    }
    expect(cluster.leader.node.core.writeQuorum).toBe(5);
    expect(cluster.leader.node.delay).toEqual({ minDelayMs: 0, maxDelayMs: 1 });
  });

  test("digest and status report the same state on leader and followers", async () => {
    cluster = inProcessCluster();
    for (let i = 0; i < 20; i++) await call(cluster.leader.app, `/kv/k${i % 7}`, jsonRequest("PUT", { value: i }));
    const leaderDigest = await call(cluster.leader.app, "/internal/digest", { headers: auth });
    expect(leaderDigest.body).toMatchObject({ role: "leader", commitOffset: 20, keys: 7 });
    const deadline = performance.now() + 2000;
    for (const follower of cluster.followers) {
      while (follower.node.state.appliedOffset < 20 && performance.now() < deadline) await Bun.sleep(5);
      expect((await call(follower.app, "/internal/digest", { headers: auth })).body.digest).toBe(leaderDigest.body.digest);
    }
    const status = await call(cluster.leader.app, "/status");
    expect(status.body).toMatchObject({ role: "leader", lastOffset: 20, commitOffset: 20, keys: 7, writeQuorum: 3 });
    expect(status.body.followers).toHaveLength(5);
  });

  test("a stale minOffset read on a follower answers 503 stale_read after a bounded wait", async () => {
    cluster = inProcessCluster();
    const read = await call(cluster.followers[0]!.app, "/kv/k?minOffset=5");
    expect(read).toMatchObject({ status: 503, body: { error: "stale_read", minOffset: 5, appliedOffset: 0 } });
  });
});

describe("fencing by a restarting leader", () => {
  test("POST /internal/fence needs the token, reports the position before, then refuses the old epoch", async () => {
    cluster = inProcessCluster();
    await call(cluster.leader.app, "/kv/k", jsonRequest("PUT", { value: 1 }));
    const follower = cluster.followers[0]!;
    await Bun.sleep(50); // a heartbeat carries the commit
    expect((await call(follower.app, "/internal/fence", jsonRequest("POST", { epoch: 99, leaderId: "new" }))).status).toBe(401);
    expect(follower.node.epoch).toBe(cluster.leader.node.epoch);
    const fenced = await call(follower.app, "/internal/fence", jsonRequest("POST", { epoch: 99, leaderId: "new" }, auth));
    expect(fenced).toEqual({
      status: 200,
      body: {
        epoch: cluster.leader.node.epoch,
        lastOffset: 1,
        lastEntryEpoch: cluster.leader.node.epoch,
        appliedOffset: 1,
        writeQuorumFloor: cluster.leader.node.core.writeQuorum,
        writeQuorum: cluster.leader.node.core.writeQuorum,
        nodeId: "follower1",
      },
    });
    expect(follower.node.epoch).toBe(99);
    // The old leader's next message is refused: it can no longer count this follower.
    const stale = await call(
      follower.app,
      "/internal/replicate",
      jsonRequest("POST", { epoch: cluster.leader.node.epoch, leaderId: "leader", prevOffset: 1, prevEpoch: 1, entries: [], commitOffset: 1 }, auth),
    );
    expect(stale).toMatchObject({ status: 409, body: { error: "stale_epoch", epoch: 99 } });
  });
});
