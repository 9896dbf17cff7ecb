import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TargetError, defaultLeaderUrl, fetchLeaderStatus, findTarget, resolveLeaderUrl, resolveNodeUrls, resolveToken } from "./target.ts";

const folder = mkdtempSync(join(tmpdir(), "quorumkv-target-"));
const missingFile = join(folder, "missing.json");

describe("resolveLeaderUrl", () => {
  test("flag, then LEADER_URL, then the default; trailing slashes go", () => {
    expect(resolveLeaderUrl("http://a:1/", { LEADER_URL: "http://b:2" })).toBe("http://a:1");
    expect(resolveLeaderUrl(undefined, { LEADER_URL: "http://b:2//" })).toBe("http://b:2");
    expect(resolveLeaderUrl(undefined, {})).toBe(defaultLeaderUrl);
  });

  test("something that is not an http URL is refused", () => {
    expect(() => resolveLeaderUrl("127.0.0.1:5001", {})).toThrow(TargetError);
  });
});

describe("resolveToken", () => {
  const clusterFile = join(folder, "cluster.json");
  writeFileSync(clusterFile, JSON.stringify({ leader: "http://127.0.0.1:5001", token: "from-file-token" }));

  test("flag, then CLUSTER_TOKEN, then the file npm start wrote", () => {
    expect(resolveToken("flag-token", { CLUSTER_TOKEN: "env-token" }, clusterFile)).toBe("flag-token");
    expect(resolveToken(undefined, { CLUSTER_TOKEN: "env-token" }, clusterFile)).toBe("env-token");
    expect(resolveToken(undefined, {}, clusterFile)).toBe("from-file-token");
  });

  test("no token anywhere is undefined; a corrupt file is an error", () => {
    expect(resolveToken(undefined, {}, missingFile)).toBeUndefined();
    const corrupt = join(folder, "corrupt.json");
    writeFileSync(corrupt, "{not json");
    expect(() => resolveToken(undefined, {}, corrupt)).toThrow(TargetError);
  });
});

describe("resolveNodeUrls", () => {
  const withNodes = join(folder, "nodes.json");
  writeFileSync(withNodes, JSON.stringify({ leader: "http://h:1", followers: ["http://h:2"], nodes: ["http://h:1", "http://h:2", "http://h:3"] }));
  const withoutNodes = join(folder, "old.json");
  writeFileSync(withoutNodes, JSON.stringify({ leader: "http://h:1", followers: ["http://h:2"] }));

  test("--peers, then cluster.json's nodes (or leader and followers) when the URL given is one of them", () => {
    expect(resolveNodeUrls("http://h:2", "http://p:9/", withNodes)).toEqual(["http://h:2", "http://p:9", "http://h:1", "http://h:3"]);
    expect(resolveNodeUrls("http://h:1", undefined, withoutNodes)).toEqual(["http://h:1", "http://h:2"]);
  });

  test("another cluster's file is not mixed in; a peer that is not a URL is refused", () => {
    expect(resolveNodeUrls("http://other:1", undefined, withNodes)).toEqual(["http://other:1"]);
    expect(() => resolveNodeUrls("http://h:1", "h:2", missingFile)).toThrow(TargetError);
  });
});

describe("fetchLeaderStatus", () => {
  // A fake node: answers /status as a follower or as a leader with two followers.
  let role = "follower";
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: () =>
      Response.json(
        role === "follower"
          ? { id: "f1", role, leader: "http://127.0.0.1:9" }
          : { id: "l", role, writeQuorum: 1, delay: { minDelayMs: 0, maxDelayMs: 1 }, followers: [{ url: "http://f:1" }, { url: "http://f:2" }] },
      ),
  });
  const url = `http://127.0.0.1:${server.port}`;
  afterAll(() => server.stop(true));

  test("a follower is refused, naming its leader", async () => {
    role = "follower";
    await expect(fetchLeaderStatus(url)).rejects.toThrow(/is a follower, not the leader; the leader is http:\/\/127.0.0.1:9/);
  });

  test("findTarget from a follower: the leader it names is found through its /status", async () => {
    role = "follower";
    const leader = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => Response.json({ id: "l2", role: "leader", epoch: 2, writeQuorum: 1, delay: { minDelayMs: 0, maxDelayMs: 1 }, followers: [{ url }] }),
    });
    const leaderUrl = `http://127.0.0.1:${leader.port}`;
    const follower = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json({ id: "f", role: "follower", epoch: 2, leader: leaderUrl }) });
    try {
      const target = await findTarget({ leader: `http://127.0.0.1:${follower.port}`, token: "t" });
      expect(target.leaderUrl).toBe(leaderUrl);
      expect(target.nodeUrls).toContain(leaderUrl);
    } finally {
      follower.stop(true);
      leader.stop(true);
    }
  });

  test("the followers come from the leader's /status unless given", async () => {
    role = "leader";
    expect((await findTarget({ leader: url, token: "t" })).followerUrls).toEqual(["http://f:1", "http://f:2"]);
    expect((await findTarget({ leader: url, followerUrls: ["http://g:1/"] })).followerUrls).toEqual(["http://g:1"]);
  });

  test("nothing listening is a clear error", async () => {
    // Port 1 (tcpmux) is privileged and never a quorumkv node.
    await expect(fetchLeaderStatus("http://127.0.0.1:1")).rejects.toThrow(/no cluster answers at/);
  });
});
