import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Cluster, startCluster } from "../../src/cluster.ts";
import { http } from "../helpers.ts";
import { rssBytes } from "../../bench/hardening/rss.ts";
import { type RawAnswer, upload } from "./raw-http.ts";

/**
 * Oversize bodies on a real node: refused with our JSON 413 (not Bun's plain one), from the
 * Content-Length alone when there is one, after at most the limit when chunked, and the
 * connection closed so the rest is never read. Memory stays flat across 100 uploads of 100 MB.
 */

const MiB = 1024 * 1024;
const maxValueBytes = MiB; // the default MAX_VALUE_BYTES
const hundredMiB = 100 * MiB;

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ followers: 2, writeQuorum: 2, minDelayMs: 0, maxDelayMs: 1 });
});
afterAll(async () => {
  await cluster?.stop();
});

const head = (method: string, path: string, headers: Record<string, string | number>) =>
  `${method} ${path} HTTP/1.1\r\nHost: quorumkv\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("")}\r\n`;

function expectJson413(answer: RawAnswer, limit: number): void {
  expect(answer.status).toBe(413);
  expect(answer.text).toMatch(/\r\ncontent-type: application\/json/i);
  expect(JSON.parse(answer.body)).toEqual({ error: "payload_too_large", message: expect.any(String), limit });
}

async function leaderState() {
  const { body } = await http(`${cluster.leader.url}/internal/digest`, { token: cluster.token });
  return { lastOffset: body.lastOffset, digest: body.digest };
}

describe("a body announced over the limit", () => {
  test("gets the JSON 413 before a single body byte is sent, on every route and method, and the connection closes", async () => {
    const replicationLimit = 8 * (4 * MiB + maxValueBytes); // src/http/app.ts: a full batch, escaped
    const leader = cluster.leader.url;
    const follower = cluster.followers[0]!.url;
    const auth = { authorization: `Bearer ${cluster.token}` };
    const cases: [url: string, method: string, path: string, headers: Record<string, string>, limit: number][] = [
      [leader, "PUT", "/kv/k", {}, maxValueBytes],
      [leader, "POST", "/set", { "content-type": "application/json" }, maxValueBytes],
      [leader, "DELETE", "/kv/k", {}, maxValueBytes],
      [leader, "GET", "/health", {}, maxValueBytes],
      [leader, "POST", "/no/such/route", {}, maxValueBytes],
      // Before the token check: a stranger cannot make a node read 100 MB to learn it is refused.
      [leader, "PUT", "/admin/config", {}, maxValueBytes],
      [follower, "POST", "/internal/replicate", {}, replicationLimit],
      [follower, "POST", "/internal/replicate", auth, replicationLimit],
      [follower, "POST", "/internal/snapshot", auth, replicationLimit],
      [follower, "PUT", "/kv/k", {}, maxValueBytes],
    ];
    for (const [url, method, path, headers, limit] of cases) {
      const answer = await upload(url, head(method, path, { ...headers, "content-length": hundredMiB }), { bodyBytes: 0, answerBeforeBody: true });
      expectJson413(answer, limit);
      expect(answer.closedByServer).toBe(true);
    }
    // One byte over the limit is enough; the limit itself is fine (a 1 MiB value is stored).
    const over = await upload(leader, head("PUT", "/kv/k", { "content-length": maxValueBytes + 1 }), { bodyBytes: 0, answerBeforeBody: true });
    expectJson413(over, maxValueBytes);
    const filler = "x".repeat(maxValueBytes - '{"value":""}'.length);
    const atLimit = await http(`${leader}/kv/at-limit`, { method: "PUT", body: `{"value":"${filler}"}` });
    expect(atLimit).toMatchObject({ status: 200, body: { key: "at-limit" } });
  });

  test("100 uploads of 100 MB each: all refused unread, the leader's RSS grows by less than 50 MB, and it keeps serving", async () => {
    const pid = cluster.leader.pid!;
    const oversize = head("PUT", "/kv/big", { "content-length": hundredMiB, "content-type": "application/json" });
    await upload(cluster.leader.url, oversize, { bodyBytes: hundredMiB }); // warm-up: first-use allocations
    const before = await leaderState();
    const rssBeforeBytes = await rssBytes(pid);
    let rssMaxBytes = rssBeforeBytes;
    let offeredBytes = 0;
    for (let i = 0; i < 100; i++) {
      const answer = await upload(cluster.leader.url, oversize, { bodyBytes: hundredMiB });
      // The client streams without waiting, so the reset that follows the close may beat the
      // answer to it: 413 or nothing, but never a success, and never the whole upload.
      if (answer.status !== null) expectJson413(answer, maxValueBytes);
      expect(answer.closedByServer).toBe(true);
      expect(answer.bodyBytesWritten).toBeLessThan(hundredMiB / 2);
      offeredBytes += answer.bodyBytesWritten;
      rssMaxBytes = Math.max(rssMaxBytes, await rssBytes(pid));
    }
    console.log(
      `100 × 100 MiB uploads: ${(offeredBytes / MiB).toFixed(0)} MiB accepted by sockets before the close; ` +
        `leader RSS ${(rssBeforeBytes / MiB).toFixed(1)} → max ${(rssMaxBytes / MiB).toFixed(1)} MiB`,
    );
    expect(rssMaxBytes - rssBeforeBytes).toBeLessThan(50 * MiB);
    expect(await leaderState()).toEqual(before);
    expect((await http(`${cluster.leader.url}/kv/after-uploads`, { method: "PUT", json: { value: 1 } })).status).toBe(200);
  });
});

describe("a chunked body without Content-Length", () => {
  test("is cut off with the JSON 413 once it passes the limit, and the connection closes", async () => {
    const answer = await upload(cluster.leader.url, head("PUT", "/kv/k", { "transfer-encoding": "chunked" }), {
      bodyBytes: maxValueBytes + 64 * 1024, // one 64 KiB chunk past the limit, then wait
      chunked: true,
      endChunks: false,
    });
    expectJson413(answer, maxValueBytes);
    expect(answer.closedByServer).toBe(true);
  });

  test("100 chunked uploads of up to 100 MB: none read past the limit, RSS grows by less than 50 MB", async () => {
    const pid = cluster.leader.pid!;
    const chunked = head("POST", "/set", { "transfer-encoding": "chunked" });
    await upload(cluster.leader.url, chunked, { bodyBytes: hundredMiB, chunked: true });
    const before = await leaderState();
    const rssBeforeBytes = await rssBytes(pid);
    let rssMaxBytes = rssBeforeBytes;
    for (let i = 0; i < 100; i++) {
      const answer = await upload(cluster.leader.url, chunked, { bodyBytes: hundredMiB, chunked: true });
      if (answer.status !== null) expectJson413(answer, maxValueBytes);
      expect(answer.closedByServer).toBe(true);
      expect(answer.bodyBytesWritten).toBeLessThan(hundredMiB / 2);
      rssMaxBytes = Math.max(rssMaxBytes, await rssBytes(pid));
    }
    console.log(`100 chunked uploads: leader RSS ${(rssBeforeBytes / MiB).toFixed(1)} → max ${(rssMaxBytes / MiB).toFixed(1)} MiB`);
    expect(rssMaxBytes - rssBeforeBytes).toBeLessThan(50 * MiB);
    expect(await leaderState()).toEqual(before);
  });
});
