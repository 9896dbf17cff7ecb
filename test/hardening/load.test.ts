import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Socket } from "node:net";
import { runClosedLoad } from "../../tools/load.ts";
import { type Cluster, startCluster } from "../../src/cluster.ts";
import { dump, http } from "../helpers.ts";
import { expectConverged } from "../workload.ts";
import { openSocket } from "./raw-http.ts";

/**
 * Heavy load and slow clients on a real cluster (1 leader + 5 followers, quorum 3, the default
 * simulated delay). The full-size run is bench/hardening/load-200.ts; this is its reduced form.
 * No speed is asserted: only that every write succeeds and every node ends up identical.
 */

let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ followers: 5, writeQuorum: 3 });
});
afterAll(async () => {
  await cluster?.stop();
});

/** The leader holds `value-i` under `key-(i mod keys)`; every follower holds exactly the same. */
async function expectWorkloadState(keys: number, writes: number) {
  await expectConverged(cluster, 30_000);
  const leaderDump = await dump(cluster.leader.url, cluster.token);
  expect(leaderDump.size).toBe(Math.min(keys, writes));
  for (const [key, { value }] of leaderDump) {
    const index = Number(/^value-(\d+)$/.exec(String(value))?.[1]);
    expect(`key-${index % keys}`).toBe(key);
    expect(index).toBeLessThan(writes);
  }
  for (const follower of cluster.followers) expect(await dump(follower.url, cluster.token)).toEqual(leaderDump);
}

describe("heavy load", () => {
  test("200 concurrent clients, 5,000 writes over 1,000 keys at quorum 3: every write succeeds and the followers converge", async () => {
    const before = (await http(`${cluster.leader.url}/status`)).body.lastOffset as number;
    const summary = await runClosedLoad({ leaderUrl: cluster.leader.url, writes: 5000, concurrency: 200, keys: 1000, quorum: 3, requestTimeoutMs: 30_000 });
    expect(summary.errors).toEqual({});
    expect(summary.succeeded).toBe(5000);
    expect((await http(`${cluster.leader.url}/status`)).body).toMatchObject({ lastOffset: before + 5000, commitOffset: before + 5000 });
    await expectWorkloadState(1000, 5000);
  });
});

describe("slow clients", () => {
  test("200 connections that send nothing, half a head or half a body do not stop others being served", async () => {
    const leaderUrl = cluster.leader.url;
    const sockets: Socket[] = [];
    const trickle: ReturnType<typeof setInterval>[] = [];
    try {
      for (let i = 0; i < 200; i++) {
        const socket = await Promise.race([openSocket(leaderUrl), Bun.sleep(5000).then(() => null)]);
        if (!socket) throw new Error(`connection ${i} was not accepted within 5 s`);
        socket.on("error", () => {});
        sockets.push(socket);
        switch (i % 4) {
          case 0: // nothing at all
            break;
          case 1: // half a request head, never finished
            socket.write("PUT /kv/slow HTTP/1.1\r\nHost: quorumkv\r\nContent-Le");
            break;
          case 2: // a whole head, then a tenth of the announced body
            socket.write('PUT /kv/slow HTTP/1.1\r\nHost: quorumkv\r\nContent-Length: 1000\r\n\r\n{"value":"');
            break;
          case 3: // a head trickling in a byte at a time, so it never looks idle
            socket.write("GET /status HTTP/1.1\r\nHost: quorumkv\r\n");
            trickle.push(setInterval(() => socket.writable && socket.write("X"), 50));
            break;
        }
      }
      const before = (await http(`${leaderUrl}/status`)).body.lastOffset as number;
      // While they hang: normal clients on their own connections.
      const summary = await runClosedLoad({ leaderUrl, writes: 1000, concurrency: 20, keys: 50, requestTimeoutMs: 10_000 });
      expect(summary.errors).toEqual({});
      expect(summary.succeeded).toBe(1000);
      expect((await http(`${leaderUrl}/health`)).status).toBe(200);
      for (const follower of cluster.followers) expect((await http(`${follower.url}/health`)).status).toBe(200);
      // The half-sent writes never reached the log.
      expect((await http(`${leaderUrl}/status`)).body.lastOffset).toBe(before + 1000);
    } finally {
      for (const timer of trickle) clearInterval(timer);
      for (const socket of sockets) socket.destroy();
    }
    // Dropped mid-body, those requests are abandoned without harm: the node serves on, unchanged.
    expect(cluster.leader.running).toBe(true);
    expect((await http(`${leaderUrl}/kv/slow`)).status).toBe(404);
    expect((await http(`${leaderUrl}/kv/after-slow`, { method: "PUT", json: { value: 1 } })).status).toBe(200);
    await expectConverged(cluster);
  });
});
