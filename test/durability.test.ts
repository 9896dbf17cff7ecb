import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Cluster, freePort, startCluster } from "../src/cluster.ts";
import { realClock, realTimers } from "../src/node/env.ts";
import { DiskStorage } from "../src/storage/disk-storage.ts";
import { dump, http, waitFor } from "./helpers.ts";

const clusters: Cluster[] = [];
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(clusters.map((cluster) => cluster.stop()));
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function durableCluster(sync: "fsync" | "write", logRetention?: number): Promise<Cluster> {
  const dataDir = mkdtempSync(join(tmpdir(), `quorumkv-durable-${sync}-`));
  dirs.push(dataDir);
  const cluster = await startCluster({ followers: 5, writeQuorum: 3, dataDir, logRetention, env: { SYNC: sync } });
  clusters.push(cluster);
  return cluster;
}

/** Every node applied the leader's commit offset and holds the same digest; returns the leader's pairs. */
async function converged(cluster: Cluster) {
  const digest = async (url: string) => (await http(`${url}/internal/digest`, { token: cluster.token })).body;
  const commit = (await http(`${cluster.leader.url}/status`)).body.commitOffset as number;
  for (const node of cluster.nodes) await waitFor(`${node.id} to apply ${commit}`, async () => (await digest(node.url)).appliedOffset >= commit);
  await waitFor("every node at the leader's digest", async () => {
    const digests = await Promise.all(cluster.nodes.map(async (node) => (await digest(node.url)).digest));
    return digests.every((value) => value === digests[0]);
  });
  return dump(cluster.leader.url, cluster.token);
}

for (const sync of ["fsync", "write"] as const) {
  describe(`SYNC=${sync}`, () => {
    test("kill -9 of all six processes at once loses no acknowledged write", async () => {
      const cluster = await durableCluster(sync);
      const acknowledged = new Map<string, number>();
      let killed = false;
      // 20 clients write distinct keys until the kill; each records what was acknowledged.
      const clients = Array.from({ length: 20 }, async (_, client) => {
        for (let n = 0; !killed; n++) {
          const key = `c${client}-${n}`;
          try {
            const answer = await http(`${cluster.leader.url}/kv/${key}`, { method: "PUT", json: { value: n } });
            if (answer.status === 200) acknowledged.set(key, n);
          } catch {
            return; // the leader is gone
          }
        }
      });
      await waitFor("1000 acknowledged writes", () => acknowledged.size >= 1000, 30_000);
      // All at once, by PID, while writes are in flight.
      for (const node of cluster.nodes) process.kill(node.pid!, "SIGKILL");
      killed = true;
      await Promise.all(cluster.nodes.map((node) => node.stop("SIGKILL")));
      await Promise.all(clients);
      const acknowledgedAtKill = new Map(acknowledged);

      await Promise.all(cluster.followers.map((node) => node.start()));
      await cluster.leader.start();
      // A write commits only after everything the new leader recovered.
      expect((await http(`${cluster.leader.url}/kv/after`, { method: "PUT", json: { value: 1 } })).status).toBe(200);
      const pairs = await converged(cluster);
      for (const [key, value] of acknowledgedAtKill) expect(pairs.get(key)?.value).toBe(value);
      for (const follower of cluster.followers) expect(await dump(follower.url, cluster.token)).toEqual(pairs);
    }, 120_000);
  });
}

test("a follower restarted with its data catches up from its own offset, not by snapshot", async () => {
  // The leader keeps 100 entries: a follower back empty would need a snapshot, one back with its 200 does not.
  const cluster = await durableCluster("fsync", 100);
  const put = (key: string) => http(`${cluster.leader.url}/kv/${key}`, { method: "PUT", json: { value: key } });
  for (let n = 0; n < 200; n++) expect((await put(`before-${n}`)).status).toBe(200);
  const follower = cluster.followers[0]!;
  await converged(cluster);
  await follower.stop("SIGKILL");
  for (let n = 0; n < 50; n++) expect((await put(`during-${n}`)).status).toBe(200);
  await follower.start();
  const pairs = await converged(cluster);
  expect(await dump(follower.url, cluster.token)).toEqual(pairs);
  const status = (await http(`${follower.url}/status`)).body;
  expect(status.snapshotsInstalled).toBe(0);
  expect(status.storage.bytes).toBeGreaterThan(0);
  const progress = await waitFor("the leader to see the restart", async () => {
    const first = (await http(`${cluster.leader.url}/status`)).body.followers[0];
    return first.partialResyncs > 0 ? first : null;
  });
  expect(progress.fullResyncs).toBe(0);
}, 60_000);

test("a follower whose log has a flipped byte in a middle record fetches what followed again from the leader", async () => {
  const cluster = await durableCluster("fsync");
  for (let n = 0; n < 100; n++) expect((await http(`${cluster.leader.url}/kv/k${n}`, { method: "PUT", json: { value: n } })).status).toBe(200);
  await converged(cluster);
  const follower = cluster.followers[1]!;
  await follower.stop("SIGKILL");
  const logPath = join(dirs.at(-1)!, follower.id, "log");
  const bytes = readFileSync(logPath);
  // In the middle of the records, not of the zeros preallocated after them.
  bytes[Math.floor((bytes.findLastIndex((byte) => byte !== 0) + 1) / 2)]! ^= 0x10;
  writeFileSync(logPath, bytes);
  await follower.start();
  expect((await http(`${cluster.leader.url}/kv/after`, { method: "PUT", json: { value: 1 } })).status).toBe(200);
  const pairs = await converged(cluster);
  expect(pairs.size).toBe(101);
  expect(await dump(follower.url, cluster.token)).toEqual(pairs);
}, 60_000);

test("a leader whose snapshot does not check sets it aside and gets the data back from its followers", async () => {
  const cluster = await durableCluster("fsync");
  for (let n = 0; n < 50; n++) expect((await http(`${cluster.leader.url}/kv/k${n}`, { method: "PUT", json: { value: n } })).status).toBe(200);
  await converged(cluster);
  // A leader stores what it recovered as a snapshot when it starts: restart it once to have one.
  await cluster.leader.stop("SIGKILL");
  await cluster.leader.start();
  await cluster.leader.stop("SIGKILL");
  const path = join(dirs.at(-1)!, cluster.leader.id, "snapshot");
  const bytes = readFileSync(path);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x08;
  writeFileSync(path, bytes);
  await cluster.leader.start();
  expect(readFileSync(`${path}.corrupt`)).toEqual(bytes);
  expect((await http(`${cluster.leader.url}/kv/after`, { method: "PUT", json: { value: 1 } })).status).toBe(200);
  const pairs = await converged(cluster);
  expect(pairs.size).toBe(51);
  expect(await dump(cluster.leader.url, cluster.token)).toEqual(pairs);
}, 60_000);

test("a node whose epoch file does not check refuses to start, with one line naming the file and the offset", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "quorumkv-corrupt-"));
  dirs.push(dataDir);
  const { storage } = DiskStorage.open(dataDir, "fsync", { clock: realClock, timers: realTimers, log: () => {} });
  storage.promiseEpoch(3);
  await new Promise<void>((resolve) => storage.sync(resolve));
  storage.close();
  const path = join(dataDir, "epoch");
  const bytes = readFileSync(path);
  bytes[bytes.length - 3]! ^= 0x04;
  writeFileSync(path, bytes);
  const run = Bun.spawnSync([process.execPath, "src/main.ts"], {
    env: { ...process.env, ROLE: "follower", CLUSTER_TOKEN: "test-token-0123456789", PORT: String(freePort()), DATA_DIR: dataDir },
  });
  expect(run.exitCode).toBe(3);
  const lines = run.stderr.toString().trim().split("\n");
  expect(lines.length).toBe(1);
  expect(lines[0]).toMatch(new RegExp(`^quorumkv follower-\\d+: refusing to start: ${path} byte \\d+: the epoch promise does not check`));
});

test("a leader restarted after every follower was wiped leads above the epoch it promised before, with its own log", async () => {
  const cluster = await durableCluster("fsync");
  for (let n = 0; n < 20; n++) expect((await http(`${cluster.leader.url}/kv/k${n}`, { method: "PUT", json: { value: n } })).status).toBe(200);
  for (let restart = 0; restart < 3; restart++) {
    await cluster.leader.stop("SIGKILL");
    await cluster.leader.start();
  }
  // A write committed at the new epoch: the leader's promise of it is stored by then (the same
  // flush as the write's record). /status alone answers before that flush, and a kill then
  // leaves the promise before it.
  expect((await http(`${cluster.leader.url}/kv/settled`, { method: "PUT", json: { value: 1 } })).status).toBe(200);
  const before = (await http(`${cluster.leader.url}/status`)).body.epoch as number;
  expect(before).toBeGreaterThanOrEqual(4);
  // The operator starts every follower empty (`--fresh` for each): their promises are gone, the leader's is not.
  await cluster.leader.stop("SIGKILL");
  await Promise.all(cluster.followers.map((node) => node.stop("SIGKILL")));
  for (const node of cluster.followers) rmSync(join(dirs.at(-1)!, node.id), { recursive: true, force: true });
  await Promise.all(cluster.followers.map((node) => node.start()));
  await cluster.leader.start();
  expect((await http(`${cluster.leader.url}/status`)).body.epoch).toBeGreaterThan(before);
  // A write commits only after everything the leader recovered (its epoch marker first): until
  // then its state may lack the entries it holds beyond its snapshot, and converged() could read
  // a commit offset from before them.
  expect((await http(`${cluster.leader.url}/kv/after`, { method: "PUT", json: { value: 1 } })).status).toBe(200);
  const pairs = await converged(cluster);
  for (let n = 0; n < 20; n++) expect(pairs.get(`k${n}`)?.value).toBe(n);
}, 60_000);

test("a follower killed with -9 makes what it finds on disk durable before it answers anything (it may be only in the page cache)", async () => {
  const cluster = await durableCluster("fsync");
  for (let n = 0; n < 20; n++) expect((await http(`${cluster.leader.url}/kv/k${n}`, { method: "PUT", json: { value: n } })).status).toBe(200);
  const follower = cluster.followers[0]!;
  await follower.stop("SIGKILL");
  await follower.start();
  // No write since: the leader's heartbeats are all it answers, and they hand it nothing to store.
  const syncs = async () => {
    const text = await (await fetch(`${follower.url}/metrics`)).text();
    return Number(/^quorumkv_storage_sync_duration_seconds_count (\d+)/m.exec(text)?.[1] ?? 0);
  };
  await waitFor(
    "the leader to hear from the restarted follower",
    async () => (await http(`${cluster.leader.url}/status`)).body.followers[0].partialResyncs > 0,
  );
  expect(await syncs()).toBeGreaterThanOrEqual(1);
}, 60_000);
