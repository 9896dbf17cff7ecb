import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Cluster, startCluster } from "../src/cluster.ts";
import { http, waitFor } from "./helpers.ts";

const logDir = mkdtempSync(join(tmpdir(), "quorumkv-logs-"));
let cluster: Cluster | undefined;
afterAll(async () => {
  await cluster?.stop();
  rmSync(logDir, { recursive: true, force: true });
});

const records = (id: string) =>
  readFileSync(join(logDir, `${id}.log`), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);

test("real nodes log JSON lines: start, a fence at the leader's epoch, config changes, and stop; no line per request", async () => {
  cluster = await startCluster({ followers: 2, writeQuorum: 1, output: { logDir } });
  for (let i = 0; i < 20; i++) expect((await http(`${cluster.leader.url}/kv/k${i}`, { method: "PUT", json: { value: i } })).status).toBe(200);
  expect((await http(`${cluster.leader.url}/admin/config`, { method: "PUT", token: cluster.token, json: { writeQuorum: 2 } })).status).toBe(200);
  await cluster.stop();

  const leader = records("leader");
  for (const record of leader) expect(Object.keys(record).slice(0, 7)).toEqual(["level", "time", "node", "role", "epoch", "event", "message"]);
  expect(leader.map((r) => r.event)).toEqual(["start", "config_changed", "stop"]);
  expect(leader[0]).toMatchObject({ level: "info", node: "leader", role: "leader", epoch: 1, url: cluster.leader.url, writeQuorum: 1, followers: 2 });
  expect(leader[1]).toMatchObject({ writeQuorum: 2, from: 1 });
  expect(leader[2]).toMatchObject({ signal: "SIGTERM" });
  expect(Number.isNaN(Date.parse(String(leader[0]!.time)))).toBe(false);

  const follower = records("follower1");
  expect(follower.map((r) => r.event)).toEqual(["start", "fence", "stop"]);
  expect(follower[0]).toMatchObject({ role: "follower", epoch: 0 });
  expect(follower[1]).toMatchObject({ epoch: 1, leaderId: "leader", previousEpoch: 0 });
  expect(follower[2]).toMatchObject({ epoch: 1 });
});

test("a restarted leader logs its recovery, and the followers the new epoch's fence", async () => {
  const dir = join(logDir, "restart");
  cluster = await startCluster({ followers: 2, writeQuorum: 1, output: { logDir: dir }, env: { LOG_LEVEL: "info" } });
  expect((await http(`${cluster.leader.url}/kv/a`, { method: "PUT", json: { value: 1 } })).status).toBe(200);
  await cluster.leader.stop("SIGKILL");
  await cluster.leader.start();
  const read = (id: string) =>
    readFileSync(join(dir, `${id}.log`), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  const recovery = await waitFor("the recovery line", () => read("leader").find((r) => r.event === "recovery" && r.step === "took_over"));
  expect(recovery).toMatchObject({ level: "info", newEpoch: 2, entries: expect.any(Number) });
  await waitFor("follower1's second fence", () => read("follower1").filter((r) => r.event === "fence").length === 2);
  expect(
    read("follower1")
      .filter((r) => r.event === "fence")
      .map((r) => r.epoch),
  ).toEqual([1, 2]);
});
