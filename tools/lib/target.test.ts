import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TargetError, defaultLeaderUrl, fetchLeaderStatus, findTarget, resolveLeaderUrl, resolveToken } from "./target.ts";

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
