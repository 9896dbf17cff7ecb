import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Cluster, startCluster, waitForLeader } from "../src/cluster.ts";
import { http, waitFor } from "./helpers.ts";
import { type Family, parsePrometheusText } from "../tools/lib/prometheus-text.ts";

// One real cluster whose leader holds at most 4 uncommitted writes, so a burst meets the bound.
let cluster: Cluster;
beforeAll(async () => {
  cluster = await startCluster({ followers: 5, writeQuorum: 3, maxDelayMs: 2, env: { MAX_PENDING_WRITES: "4" } });
});
afterAll(async () => {
  await cluster?.stop();
});

async function scrape(url: string): Promise<Map<string, Family>> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
  return parsePrometheusText(await response.text());
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.get(name.replace(/_(bucket|sum|count)$/, "")) ?? families.get(name);
  return family?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe("the strict exposition reader", () => {
  test("refuses what Prometheus would refuse", () => {
    expect(() => parsePrometheusText("a 1\n")).toThrow("not a sample of a declared family");
    expect(() => parsePrometheusText('# HELP a x\n# TYPE a gauge\na{b="1"} one\n')).toThrow("bad value");
    expect(() => parsePrometheusText("# HELP a x\n# TYPE a gauge\na 1\na 2\n")).toThrow("series twice");
    expect(() => parsePrometheusText("# HELP a x\n# TYPE a gauge\nb 1\n")).toThrow("does not belong");
    expect(() => parsePrometheusText("# HELP a x\n# TYPE a histogram\na_bucket 1\n")).toThrow("without le");
    expect(parsePrometheusText('# HELP a x\n# TYPE a gauge\na{b="q\\"",c="2"} +Inf\n').get("a")!.samples).toEqual([
      { name: "a", labels: { b: 'q"', c: "2" }, value: Number.POSITIVE_INFINITY },
    ]);
  });
});

describe("GET /metrics on a real cluster", () => {
  test("after a short load: writes, latencies, offsets, followers, bound hits and HTTP answers, each as sent", async () => {
    let committed = 0;
    for (let i = 0; i < 30; i++) {
      const answer = await http(`${cluster.leader.url}/kv/sequential-${i}`, { method: "PUT", json: { value: i } });
      expect(answer.status).toBe(200);
      committed++;
    }
    // A burst far beyond MAX_PENDING_WRITES: some are refused with 503 overloaded.
    const burst = await Promise.all(Array.from({ length: 80 }, (_, i) => http(`${cluster.leader.url}/kv/burst-${i}`, { method: "PUT", json: { value: i } })));
    const overloaded = burst.filter((a) => a.status === 503 && a.body.error === "overloaded");
    committed += burst.filter((a) => a.status === 200).length;
    expect(overloaded.length).toBeGreaterThan(0);
    expect(committed + overloaded.length).toBe(110);

    const leader = await scrape(cluster.leader.url);
    expect(value(leader, "quorumkv_role", { role: "leader" })).toBe(1);
    expect(value(leader, "quorumkv_epoch")).toBeGreaterThanOrEqual(1);
    expect(value(leader, "quorumkv_writes_total", { outcome: "committed" })).toBe(committed);
    expect(value(leader, "quorumkv_writes_total", { outcome: "overloaded" })).toBe(overloaded.length);
    expect(value(leader, "quorumkv_commit_offset")).toBeGreaterThanOrEqual(committed);
    expect(value(leader, "quorumkv_last_offset")).toBeGreaterThanOrEqual(value(leader, "quorumkv_commit_offset")!);
    expect(leader.get("quorumkv_write_duration_seconds")!.type).toBe("histogram");
    for (const outcome of ["committed", "overloaded"]) {
      const buckets = leader.get("quorumkv_write_duration_seconds")!.samples.filter((s) => s.name.endsWith("_bucket") && s.labels.outcome === outcome);
      const bounds = buckets.map((b) => Number(b.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : b.labels.le));
      expect(bounds).toEqual([...bounds].sort((a, b) => a - b));
      buckets.forEach((bucket, i) => i > 0 && expect(bucket.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value));
      const count = value(leader, "quorumkv_write_duration_seconds_count", { outcome })!;
      expect(buckets.at(-1)!.value).toBe(count);
      expect(count).toBe(outcome === "committed" ? committed : overloaded.length);
      expect(value(leader, "quorumkv_write_duration_seconds_sum", { outcome })).toBeGreaterThan(0);
    }
    // A committed write waits for followers: none is answered in under 100 µs.
    expect(value(leader, "quorumkv_write_duration_seconds_bucket", { outcome: "committed", le: "0.0001" })).toBeLessThan(committed);
    const bound = overloaded[0]!.body.bound as string;
    expect(value(leader, "quorumkv_overloaded_total", { bound })).toBe(overloaded.filter((a) => a.body.bound === bound).length);
    expect(value(leader, "quorumkv_http_requests_total", { method: "PUT", route: "/kv/:key", status: "200" })).toBe(committed);
    expect(value(leader, "quorumkv_http_requests_total", { method: "PUT", route: "/kv/:key", status: "503" })).toBe(overloaded.length);

    const followerIds = cluster.followers.map((f) => f.id);
    for (const name of ["quorumkv_follower_match_offset", "quorumkv_follower_lag_entries", "quorumkv_follower_healthy"]) {
      expect(
        leader
          .get(name)!
          .samples.map((s) => s.labels.follower)
          .sort(),
      ).toEqual(followerIds);
    }
    const lastOffset = value(leader, "quorumkv_last_offset")!;
    for (const follower of followerIds) {
      const match = value(leader, "quorumkv_follower_match_offset", { follower })!;
      expect(value(leader, "quorumkv_follower_lag_entries", { follower })).toBe(lastOffset - match);
      expect(value(leader, "quorumkv_follower_resyncs_total", { follower, kind: "full" })).toBe(0);
      // Every entry went to every follower at least once (more if a message timed out and was sent again: src/core/leader.test.ts counts exactly).
      expect(value(leader, "quorumkv_follower_entries_sent_total", { follower })).toBeGreaterThanOrEqual(lastOffset);
      expect(value(leader, "quorumkv_follower_messages_sent_total", { follower })).toBeGreaterThan(0);
      const states = leader.get("quorumkv_follower_state")!.samples.filter((s) => s.labels.follower === follower);
      expect(states.map((s) => s.value).reduce((a, b) => a + b)).toBe(1);
    }
    // At least the write quorum holds every committed write.
    const matches = followerIds.map((follower) => value(leader, "quorumkv_follower_match_offset", { follower })!);
    expect(matches.filter((m) => m >= committed).length).toBeGreaterThanOrEqual(3);
    expect(value(leader, "process_resident_memory_bytes")).toBeGreaterThan(1_000_000);

    const follower = await scrape(cluster.followers[0]!.url);
    expect(value(follower, "quorumkv_role", { role: "follower" })).toBe(1);
    expect(value(follower, "quorumkv_diverged")).toBe(0);
    expect(follower.has("quorumkv_writes_total")).toBe(false);
    // Fixed roles (no PEERS): nobody stands for election.
    expect(follower.has("quorumkv_elections_total")).toBe(false);
  });

  test("a killed follower's health gauge drops to 0 and its lag grows", async () => {
    const victim = cluster.followers[4]!;
    await victim.stop("SIGKILL");
    await waitFor(
      `${victim.id} unhealthy in /metrics`,
      async () => value(await scrape(cluster.leader.url), "quorumkv_follower_healthy", { follower: victim.id }) === 0,
    );
    const answer = await http(`${cluster.leader.url}/kv/after-kill`, { method: "PUT", json: { value: 1 } });
    expect(answer.status).toBe(200);
    const after = await scrape(cluster.leader.url);
    expect(value(after, "quorumkv_follower_lag_entries", { follower: victim.id })).toBeGreaterThanOrEqual(1);
    expect(value(after, "quorumkv_follower_healthy", { follower: cluster.followers[0]!.id })).toBe(1);
  });
});

test("with DATA_DIR, every node reports its storage: bytes on disk, the latest sync, a histogram of sync durations, and whether it can store", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "quorumkv-metrics-"));
  const cluster = await startCluster({ followers: 2, writeQuorum: 2, dataDir });
  try {
    for (let n = 0; n < 20; n++) expect((await http(`${cluster.leader.url}/kv/k${n}`, { method: "PUT", json: { value: n } })).status).toBe(200);
    for (const node of cluster.nodes) {
      const families = await scrape(node.url);
      expect(value(families, "quorumkv_storage_bytes")).toBeGreaterThan(0);
      expect(value(families, "quorumkv_storage_last_sync_seconds")).toBeGreaterThanOrEqual(0);
      // Every node synced its log at least once (20 writes, each waiting for the quorum's syncs).
      expect(value(families, "quorumkv_storage_sync_duration_seconds_count")).toBeGreaterThanOrEqual(1);
      expect(value(families, "quorumkv_storage_sync_duration_seconds_bucket", { le: "+Inf" })).toBe(
        value(families, "quorumkv_storage_sync_duration_seconds_count"),
      );
      expect(value(families, "quorumkv_storage_unavailable")).toBe(0);
    }
  } finally {
    await cluster.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("among PEERS, elections stood in, won and lost, the role and the epoch: the first leader's, then its successor's after a kill -9", async () => {
  const cluster = await startCluster({ peers: true, writeQuorum: 2 });
  try {
    const electionsOf = (families: Map<string, Family>) => ({
      started: value(families, "quorumkv_elections_started_total"),
      won: value(families, "quorumkv_elections_total", { outcome: "won" }),
      lost: value(families, "quorumkv_elections_total", { outcome: "lost" }),
    });
    const first = await scrape(cluster.leader.url);
    expect(value(first, "quorumkv_role", { role: "leader" })).toBe(1);
    const firstElections = electionsOf(first);
    expect(firstElections.won).toBe(1);
    expect(firstElections.started).toBe(firstElections.won! + firstElections.lost!);
    const oldEpoch = (await http(`${cluster.leader.url}/status`)).body.epoch;
    expect(value(first, "quorumkv_epoch")).toBe(oldEpoch);
    const follower = await scrape(cluster.followers[0]!.url);
    expect(value(follower, "quorumkv_role", { role: "follower" })).toBe(1);
    expect(electionsOf(follower).won).toBe(0);
    expect(value(follower, "quorumkv_epoch")).toBe(oldEpoch);

    const old = cluster.leader;
    await old.stop("SIGKILL");
    const next = await waitForLeader(cluster.followers, 15_000);
    const after = await scrape(next.url);
    expect(value(after, "quorumkv_role", { role: "leader" })).toBe(1);
    expect(electionsOf(after).won).toBe(1);
    expect(electionsOf(after).started).toBeGreaterThanOrEqual(1);
    const epoch = (await http(`${next.url}/status`)).body.epoch;
    expect(epoch).toBeGreaterThan(oldEpoch);
    expect(value(after, "quorumkv_epoch")).toBe(epoch);
  } finally {
    await cluster.stop();
  }
});
