import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Cluster, startCluster } from "../src/cluster.ts";
import { checkConsistency } from "./lib/consistency.ts";
import { runClosedLoad, runOpenLoad, workloadRequest } from "./load.ts";

test('the workload shape is the k6 scripts\': key-<i % keys>, {"value": "value-<i>"}, ?quorum=', () => {
  expect(workloadRequest(123, 100)).toEqual({ path: "/kv/key-23", body: '{"value":"value-123"}' });
  expect(workloadRequest(7, 5, 2).path).toBe("/kv/key-2?quorum=2");
});

describe("against a local cluster", () => {
  let cluster: Cluster;
  let leaderUrl: string;
  beforeAll(async () => {
    cluster = await startCluster({ followers: 2, writeQuorum: 2, minDelayMs: 0, maxDelayMs: 1 });
    leaderUrl = cluster.leader.url;
  });
  afterAll(() => cluster.stop());

  test("closed model: every write lands, and each key ends with its last write's value", async () => {
    const summary = await runClosedLoad({ leaderUrl, writes: 300, concurrency: 4, keys: 10 });
    expect(summary).toMatchObject({ model: "closed", writes: 300, succeeded: 300, failed: 0, successRate: 1, errors: {} });
    // WRITE_QUORUM 2 of 2 followers: every answer came once both held the write.
    expect(summary.acks).toEqual({ 2: 300 });
    const l = summary.latencyMs;
    expect(0 < l.min && l.min <= l.p50 && l.p50 <= l.p95 && l.p95 <= l.p99 && l.p99 <= l.max).toBe(true);
    // With 4 clients at most the last 4 writes are in flight at once, so write 290+k (the last
    // one to key-k) was sent after 280+k had answered: it is the value that must remain.
    for (let k = 0; k < 10; k++) {
      const body = (await (await fetch(`${leaderUrl}/kv/key-${k}`)).json()) as { value: string };
      expect(body.value).toBe(`value-${290 + k}`);
    }
    const report = await checkConsistency({ leaderUrl, followerUrls: cluster.followers.map((f) => f.url), token: cluster.token });
    expect(report.consistent).toBe(true);
    expect(report.nodes.map((n) => n.digest)).toEqual(Array(3).fill(report.nodes[0]!.digest));
  });

  test("errors are counted by the JSON error code, and kept out of the latencies", async () => {
    const summary = await runClosedLoad({ leaderUrl, writes: 20, concurrency: 2, keys: 5, quorum: 3 });
    expect(summary).toMatchObject({ succeeded: 0, failed: 20, errors: { invalid_quorum: 20 }, acks: {} });
    expect(summary.latencyMs.max).toBe(0);
  });

  test("open model: writes follow the schedule, and those with no room are dropped, not delayed", async () => {
    const steady = await runOpenLoad({ leaderUrl, rate: 200, durationS: 0.5, keys: 10 });
    expect(steady).toMatchObject({ model: "open", writes: 100, succeeded: 100, dropped: 0 });
    // Two writes fall due in every millisecond tick but only one may be in flight.
    const squeezed = await runOpenLoad({ leaderUrl, rate: 2000, durationS: 0.2, keys: 10, inFlightMax: 1 });
    expect(squeezed.dropped).toBeGreaterThan(0);
    expect(squeezed.writes + squeezed.dropped).toBe(400);
    expect(squeezed.successRate).toBeCloseTo(squeezed.succeeded / 400, 12);
  });
});

test("closed model with a think time: each client pauses after every answer, and the pause is not latency", async () => {
  // A stand-in leader that answers at once and records when each write arrived.
  const arrivals: number[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: () => {
      arrivals.push(performance.now());
      return Response.json({ offset: arrivals.length, acks: arrivals.length % 2 });
    },
  });
  try {
    const thinkMs = 40;
    const summary = await runClosedLoad({ leaderUrl: `http://127.0.0.1:${server.port}`, writes: 4, concurrency: 1, keys: 3, thinkMs });
    expect(summary).toMatchObject({ succeeded: 4, thinkMs, acks: { 0: 2, 1: 2 } });
    for (let i = 1; i < arrivals.length; i++) expect(arrivals[i]! - arrivals[i - 1]!).toBeGreaterThanOrEqual(thinkMs - 1);
    // Bun's timers fire up to a millisecond early. The pauses are not latency: the latencies add
    // up to at most the run's time less the three pauses.
    const latencySumMs = summary.latencyMs.mean * 4;
    expect(latencySumMs).toBeLessThanOrEqual(summary.seconds * 1000 - 3 * (thinkMs - 1) + 1);
  } finally {
    server.stop(true);
  }
});

test("no leader anywhere: each write fails once the leader wait bound passes, none indeterminate", async () => {
  const summary = await runClosedLoad({ leaderUrl: "http://127.0.0.1:1", writes: 6, concurrency: 2, keys: 3, leaderWaitMs: 50 });
  expect(summary).toMatchObject({ failed: 6, indeterminate: 0, errors: { leader_not_found: 6 } });
});

test("the built-in generator follows a 421 to the leader, and reports each write once", async () => {
  const leader = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => Response.json({ offset: 1, acks: 1 }) });
  const follower = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: () => Response.json({ error: "not_leader", message: "not the leader", leader: `http://127.0.0.1:${leader.port}` }, { status: 421 }),
  });
  try {
    const answeredBy = new Set<string | undefined>();
    const summary = await runClosedLoad({
      leaderUrl: `http://127.0.0.1:${follower.port}`,
      writes: 10,
      concurrency: 2,
      keys: 3,
      onWrite: (record) => answeredBy.add(record.url),
    });
    expect(summary).toMatchObject({ writes: 10, succeeded: 10, failed: 0, indeterminate: 0, errors: {} });
    expect([...answeredBy]).toEqual([`http://127.0.0.1:${leader.port}`]);
  } finally {
    follower.stop(true);
    leader.stop(true);
  }
});

test("503 quorum_timeout is indeterminate, not failed: the write may yet commit", async () => {
  const leader = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: () => Response.json({ error: "quorum_timeout", message: "no quorum in time", offset: 7, acks: 1, required: 3 }, { status: 503 }),
  });
  try {
    const outcomes: string[] = [];
    const summary = await runClosedLoad({
      leaderUrl: `http://127.0.0.1:${leader.port}`,
      writes: 3,
      concurrency: 1,
      keys: 3,
      onWrite: (r) => outcomes.push(r.outcome),
    });
    expect(summary).toMatchObject({ succeeded: 0, failed: 0, indeterminate: 3, errors: { quorum_timeout: 3 } });
    expect(outcomes).toEqual(["indeterminate", "indeterminate", "indeterminate"]);
  } finally {
    leader.stop(true);
  }
});

test("bun run load with no cluster at --leader: one line that names the way out, --local included, exit 2", async () => {
  const child = Bun.spawn([process.execPath, "tools/load.ts", "--leader", "http://127.0.0.1:1"], { stdout: "pipe", stderr: "pipe" });
  const [exitCode, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  expect(stderr).toMatch(/^load: no cluster answers at http:\/\/127\.0\.0\.1:1 \(.*\); start one with `npm start` or pass --leader URL, or use --local\n$/);
  expect(exitCode).toBe(2);
});
