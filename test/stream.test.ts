import { afterAll, beforeAll, expect, test } from "bun:test";
import { type Cluster, startCluster } from "../src/cluster.ts";
import { http, waitFor } from "./helpers.ts";

// The leader replicates over /internal/stream (one WebSocket per follower); every other test
// goes through it. Here: what a stranger or a broken peer gets from it.

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ followers: 1, writeQuorum: 1 });
});
afterAll(async () => {
  await cluster?.stop();
});

function openStream(headers: Record<string, string>): Promise<WebSocket> {
  const socket = new WebSocket(`${cluster.followers[0]!.url.replace("http", "ws")}/internal/stream`, { headers } as unknown as string[]);
  return new Promise((resolve, reject) => {
    socket.onopen = () => resolve(socket);
    socket.onerror = () => reject(new Error("refused"));
  });
}

test("the stream needs the cluster token and is a WebSocket", async () => {
  expect(await http(`${cluster.followers[0]!.url}/internal/stream`)).toMatchObject({ status: 401, body: { error: "unauthorized" } });
  expect(await http(`${cluster.followers[0]!.url}/internal/stream`, { token: cluster.token })).toMatchObject({ status: 426 });
  await expect(openStream({ authorization: "Bearer not-the-token" })).rejects.toThrow();
});

test("an invalid message gets the same 400 answer as over HTTP and changes nothing; a non-frame closes the stream", async () => {
  const written = await http(`${cluster.leader.url}/kv/k`, { method: "PUT", json: { value: 1 } });
  expect(written.status).toBe(200);
  const digest = async () => (await http(`${cluster.followers[0]!.url}/internal/digest`, { token: cluster.token })).body;
  await waitFor("the follower to apply the write", async () => (await digest()).appliedOffset === written.body.offset);
  const before = await digest();
  const socket = await openStream({ authorization: `Bearer ${cluster.token}` });
  const answers: unknown[] = [];
  socket.onmessage = (event) => answers.push(JSON.parse(String(event.data)));
  socket.send(JSON.stringify({ id: 7, kind: "replicate", body: { epoch: "x" } }));
  await waitFor("the answer", () => answers.length === 1, 5000);
  expect(answers[0]).toMatchObject({ id: 7, status: 400, body: { error: "invalid_message" } });
  const closed = new Promise<number>((resolve) => (socket.onclose = (event) => resolve(event.code)));
  socket.send("not a frame");
  expect(await closed).toBe(1003);
  expect(await digest()).toEqual(before);
});
