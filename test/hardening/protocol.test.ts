import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Cluster, startCluster } from "../../src/cluster.ts";
import { http } from "../helpers.ts";
import { openSocket, parseResponse } from "./raw-http.ts";

/**
 * Requests Bun's HTTP parser refuses before the app sees them: heads over 16 KiB, malformed
 * request lines, bad Content-Length or chunk framing, unknown methods. These are the only
 * answers that are not our JSON (Bun sends a bare status line and closes); the test pins what
 * they are, so the limits table stays true, and that the node serves on with its state intact.
 */

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ followers: 1, writeQuorum: 1, minDelayMs: 0, maxDelayMs: 0 });
  expect((await http(`${cluster.leader.url}/kv/kept`, { method: "PUT", json: { value: "kept" } })).status).toBe(200);
});
afterAll(async () => {
  await cluster?.stop();
});

/** Sends raw bytes; resolves with what came back once the server closes (or after 3 s). */
async function raw(bytes: string): Promise<{ status: number | null; text: string; closed: boolean }> {
  const socket = await openSocket(cluster.leader.url);
  let text = "";
  socket.on("data", (data) => (text += data.toString("latin1")));
  socket.on("error", () => {});
  const closed = new Promise<boolean>((resolve) => socket.on("close", () => resolve(true)));
  socket.write(Buffer.from(bytes, "latin1"));
  const wasClosed = await Promise.race([closed, Bun.sleep(3000).then(() => false)]);
  socket.destroy();
  return { status: parseResponse(text).status, text, closed: wasClosed };
}

const get = (extraHead: string) => `GET /health HTTP/1.1\r\nHost: quorumkv\r\n${extraHead}\r\n`;

test("heads over 16 KiB get Bun's 431 and a closed connection; just under is served", async () => {
  const state = await http(`${cluster.leader.url}/internal/digest`, { token: cluster.token });
  for (const head of [
    get(`X-Big: ${"a".repeat(20_000)}\r\n`),
    get(`X-Huge: ${"a".repeat(1_000_000)}\r\n`),
    get(Array.from({ length: 2000 }, (_, i) => `X-H${i}: v\r\n`).join("")),
    `GET /kv/${"k".repeat(100_000)} HTTP/1.1\r\nHost: quorumkv\r\n\r\n`,
  ]) {
    const answer = await raw(head);
    expect(answer.status).toBe(431);
    expect(answer.closed).toBe(true);
  }
  const under = await raw(get(`X-Fine: ${"a".repeat(8000)}\r\nConnection: close\r\n`));
  expect(under.status).toBe(200);
  expect(await http(`${cluster.leader.url}/internal/digest`, { token: cluster.token })).toEqual(state);
});

test("malformed requests get Bun's bare 400 (505 for a bad request line), or a closed connection, and change nothing", async () => {
  const state = await http(`${cluster.leader.url}/internal/digest`, { token: cluster.token });
  const cases: [request: string, status: number | null][] = [
    ["PUT /kv/k HTTP/1.1\r\nHost: q\r\nContent-Length: abc\r\n\r\n", 400],
    ["PUT /kv/k HTTP/1.1\r\nHost: q\r\nContent-Length: -1\r\n\r\n", 400],
    ['PUT /kv/k HTTP/1.1\r\nHost: q\r\nContent-Length: 11\r\nContent-Length: 12\r\n\r\n{"value":1}', 400],
    ["PUT /kv/k HTTP/1.1\r\nHost: q\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400],
    ["GET /health HTTP/1.1\r\n\r\n", 400], // no Host
    ["\u0000\u0001\u0002 hello\r\n\r\n", 400],
    ["GET /kv/a b HTTP/1.1\r\nHost: q\r\n\r\n", 505], // a space in the target reads as a bad version
    ["GET /kv/a\u0001b HTTP/1.1\r\nHost: q\r\n\r\n", 505],
    ["FOO /health HTTP/1.1\r\nHost: q\r\n\r\n", null], // unknown method: closed without an answer
  ];
  for (const [request, status] of cases) {
    const answer = await raw(request);
    expect({ request, status: answer.status }).toEqual({ request, status });
    expect(answer.closed).toBe(true);
  }
  expect(await http(`${cluster.leader.url}/internal/digest`, { token: cluster.token })).toEqual(state);
  expect((await http(`${cluster.leader.url}/kv/kept`)).body.value).toBe("kept");
  expect(cluster.leader.running).toBe(true);
});
