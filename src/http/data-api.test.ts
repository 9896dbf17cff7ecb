import { afterEach, describe, expect, test } from "bun:test";
import { inProcessCluster, jsonRequest } from "../in-process-cluster.ts";
import { replicateMessageSchema } from "./internal-routes.ts";

let cluster: ReturnType<typeof inProcessCluster>;
afterEach(() => cluster?.stop());

type App = { request: (path: string, init?: RequestInit) => Response | Promise<Response> };
async function call(app: App, path: string, init?: RequestInit) {
  const response = await app.request(path, init);
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}
const put = (key: string, value: unknown, query = "") => call(cluster.leader.app, `/kv/${encodeURIComponent(key)}${query}`, jsonRequest("PUT", { value }));
const txn = (body: unknown) => call(cluster.leader.app, "/txn", jsonRequest("POST", body));

describe("conditional writes (ifOffset)", () => {
  test("a CAS succeeds on the offset read, fails with 412 and the current offset otherwise; 0 means absent", async () => {
    cluster = inProcessCluster();
    expect((await put("lock", "me", "?ifOffset=0")).body).toMatchObject({ key: "lock", offset: 1 });
    const taken = await put("lock", "you", "?ifOffset=0");
    expect(taken).toEqual({ status: 412, body: { error: "precondition_failed", message: expect.stringContaining("offset 1"), key: "lock", offset: 1 } });
    expect((await call(cluster.leader.app, "/kv/lock")).body).toMatchObject({ value: "me", offset: 1 });
    expect((await put("lock", "me again", "?ifOffset=1")).body).toMatchObject({ offset: 3 });
    expect((await call(cluster.leader.app, "/kv/lock?ifOffset=1", { method: "DELETE" })).body).toMatchObject({ error: "precondition_failed", offset: 3 });
    expect((await call(cluster.leader.app, "/kv/lock?ifOffset=3", { method: "DELETE" })).status).toBe(200);
    expect((await put("lock", "new", "?ifOffset=3")).body).toMatchObject({ error: "precondition_failed", offset: 0 });
    // Every node decided alike: followers hold the same state.
    for (const follower of cluster.followers) {
      expect((await call(follower.app, "/kv/lock?minOffset=6")).status).toBe(404);
      expect(follower.node.state.digest().digest).toBe(cluster.leader.node.state.digest().digest);
    }
  });

  test("a bad ifOffset is 400 invalid_offset and writes nothing; a follower answers 421", async () => {
    cluster = inProcessCluster();
    for (const bad of ["-1", "x", "1.5", ""]) {
      expect((await put("k", 1, `?ifOffset=${bad}`)).body.error).toBe("invalid_offset");
    }
    expect(cluster.leader.node.lastOffset).toBe(0);
    expect((await call(cluster.followers[0]!.app, "/kv/k?ifOffset=0", jsonRequest("PUT", { value: 1 }))).status).toBe(421);
  });
});

describe("POST /txn", () => {
  test("runs success when every comparison holds, failure otherwise; gets see the txn's position; one offset", async () => {
    cluster = inProcessCluster();
    await put("a", 1);
    const ok = await txn({
      compare: [
        { key: "a", offset: 1 },
        { key: "b", offset: 0 },
      ],
      success: [
        { op: "put", key: "b", value: { n: 2 } },
        { op: "get", key: "b" },
        { op: "delete", key: "a" },
        { op: "get", key: "a" },
      ],
      failure: [{ op: "get", key: "a" }],
    });
    expect(ok).toEqual({
      status: 200,
      body: {
        succeeded: true,
        offset: 2,
        acks: expect.any(Number),
        results: [
          { op: "put", key: "b", offset: 2 },
          { op: "get", key: "b", found: true, value: { n: 2 }, offset: 2 },
          { op: "delete", key: "a", deleted: true },
          { op: "get", key: "a", found: false },
        ],
      },
    });
    const failed = await txn({ compare: [{ key: "b", offset: 1 }], success: [{ op: "delete", key: "b" }], failure: [{ op: "get", key: "b" }] });
    expect(failed.body).toMatchObject({ succeeded: false, offset: 3, results: [{ op: "get", key: "b", found: true, offset: 2 }] });
    expect((await call(cluster.leader.app, "/kv/b")).body).toMatchObject({ value: { n: 2 }, offset: 2 });
    for (const follower of cluster.followers) {
      expect((await call(follower.app, "/kv/b?minOffset=3")).body).toMatchObject({ value: { n: 2 }, offset: 2 });
      expect(follower.node.state.digest()).toEqual(cluster.leader.node.state.digest());
    }
  });

  test("bad bodies are 400 invalid_txn (or invalid_json) and append nothing; bounds are named", async () => {
    cluster = inProcessCluster();
    const many = Array.from({ length: 129 }, (_, i) => ({ op: "get", key: `k${i}` }));
    const bad: [unknown, string][] = [
      ["{", "invalid_json"],
      [[], "invalid_txn"],
      [{ success: [{ op: "put", key: "k" }] }, "invalid_txn"],
      [{ success: [{ op: "increment", key: "k" }] }, "invalid_txn"],
      [{ success: [{ op: "get", key: "" }] }, "invalid_txn"],
      [{ compare: [{ key: "k", offset: -1 }] }, "invalid_txn"],
      [{ compare: [{ key: "k", offset: 0 }], extra: 1 }, "invalid_txn"],
      [{ success: many }, "invalid_txn"],
    ];
    for (const [body, code] of bad) {
      const answer = await txn(body);
      expect({ body, status: answer.status, error: answer.body.error }).toEqual({ body, status: 400, error: code });
    }
    expect((await txn({ success: many.slice(0, 128) })).body.results).toHaveLength(128);
    expect(cluster.leader.node.lastOffset).toBe(1);
    const oversize = await txn({ success: [{ op: "put", key: "k", value: "x".repeat(1024 * 1024) }] });
    expect(oversize.status).toBe(413);
    expect((await call(cluster.followers[0]!.app, "/txn", jsonRequest("POST", {}))).status).toBe(421);
  });

  test("peer validation carries a txn entry and a conditional one whole, and refuses a malformed one", () => {
    const message = (entry: Record<string, unknown>) => ({
      epoch: 1,
      leaderId: "L",
      prevOffset: 0,
      prevEpoch: 0,
      entries: [{ offset: 1, epoch: 1, ...entry }],
      commitOffset: 0,
    });
    const txnEntry = {
      key: "",
      value: null,
      txn: { compare: [{ key: "a", offset: 0 }], success: [{ op: "put" as const, key: "a", value: "1" }], failure: [] },
    };
    expect(replicateMessageSchema.parse(message(txnEntry)).entries[0]).toEqual({ offset: 1, epoch: 1, ...txnEntry });
    expect(replicateMessageSchema.parse(message({ key: "a", value: "1", ifOffset: 0 })).entries[0]!.ifOffset).toBe(0);
    expect(
      replicateMessageSchema.safeParse(message({ ...txnEntry, txn: { compare: [], success: [{ op: "put", key: "a", value: "{" }], failure: [] } })).success,
    ).toBe(false);
    expect(replicateMessageSchema.safeParse(message({ key: "a", value: "1", ifOffset: -1 })).success).toBe(false);
  });
});

describe("GET /kv (scan)", () => {
  test("pages through a prefix in key order with next; on followers too; honours minOffset", async () => {
    cluster = inProcessCluster();
    for (const key of ["user/3", "user/1", "other", "user/2", "user/10", "userx"]) await put(key, key.length);
    const first = await call(cluster.leader.app, "/kv?prefix=user/&limit=2");
    expect(first).toEqual({
      status: 200,
      body: {
        items: [
          { key: "user/1", value: 6, offset: 2 },
          { key: "user/10", value: 7, offset: 5 },
        ],
        appliedOffset: 6,
        next: "user/10",
      },
    });
    const second = await call(cluster.leader.app, `/kv?prefix=user/&limit=2&after=${encodeURIComponent(first.body.next)}`);
    expect(second.body.items.map((item: { key: string }) => item.key)).toEqual(["user/2", "user/3"]);
    expect(second.body.next).toBeUndefined(); // nothing more under the prefix ("userx" is not)
    const last = await call(cluster.leader.app, "/kv?prefix=user/&limit=2&after=user/3");
    expect(last.body).toEqual({ items: [], appliedOffset: 6 });
    const all = await call(cluster.followers[2]!.app, "/kv?minOffset=6");
    expect(all.body.items.map((item: { key: string }) => item.key)).toEqual(["other", "user/1", "user/10", "user/2", "user/3", "userx"]);
    expect(all.body.next).toBeUndefined();
    expect((await call(cluster.followers[2]!.app, "/kv?minOffset=99")).body).toMatchObject({ error: "stale_read", minOffset: 99 });
  });

  test("limits and bad parameters are 400s; default page is 100", async () => {
    cluster = inProcessCluster();
    for (let i = 0; i < 120; i++) await put(`k${String(i).padStart(3, "0")}`, i);
    const page = await call(cluster.leader.app, "/kv");
    expect(page.body.items).toHaveLength(100);
    expect(page.body.next).toBe("k099");
    expect((await call(cluster.leader.app, "/kv?limit=1000")).body.items).toHaveLength(120);
    for (const query of ["limit=0", "limit=1001", "limit=x", `prefix=${"p".repeat(1025)}`, `after=${"a".repeat(1025)}`]) {
      expect((await call(cluster.leader.app, `/kv?${query}`)).status).toBe(400);
    }
    expect((await call(cluster.leader.app, "/kv?minOffset=-1")).body.error).toBe("invalid_offset");
  });
});
