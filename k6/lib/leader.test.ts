import { beforeEach, expect, mock, test } from "bun:test";

/**
 * k6/lib/leader.js without a k6 binary: its k6 modules are replaced by stand-ins with k6's
 * documented shapes (http.put/batch answering with status, error_code, timings and json(); sleep
 * in seconds; Trend/Rate.add), backed by a scripted cluster. Each test imports a fresh copy of the
 * script (a query string makes a new module), as each k6 VU has its own.
 */

interface FakeNode {
  role: "leader" | "follower" | "candidate";
  epoch: number;
  leader?: string;
  /** Not listening: k6 reports a refused dial (error code 1212). */
  down?: boolean;
  /** Drops the connection after reading the write: a reset (1220). */
  resets?: boolean;
}

let nodes: Record<string, FakeNode> = {};
let requests: string[] = [];
let samples: { value: number; tags: Record<string, string> }[] = [];
let failedRate: boolean[] = [];
/** Runs at each sleep(): lets a test change the cluster while the script waits. */
let onSleep = () => {};

const answer = (status: number, body: unknown, errorCode = 0) => ({
  status,
  error_code: errorCode,
  timings: { duration: 2 },
  json: () => {
    if (body === undefined) throw new Error("no body");
    return body;
  },
});

function put(url: string) {
  const base = new URL(url).origin;
  requests.push(`PUT ${base}`);
  const node = nodes[base];
  if (!node || node.down) return answer(0, undefined, 1212);
  if (node.resets) return answer(0, undefined, 1220);
  if (node.role === "leader") return answer(200, { offset: 1, acks: 1 });
  if (node.leader) return answer(421, { error: "not_leader", leader: node.leader });
  return answer(503, { error: "no_leader" });
}

function status(url: string) {
  const base = new URL(url).origin;
  requests.push(`GET ${base}/status`);
  const node = nodes[base];
  if (!node || node.down) return answer(0, undefined, 1212);
  return answer(200, { role: node.role, epoch: node.epoch, leader: node.leader ?? null, peers: Object.keys(nodes) });
}

mock.module("k6/http", () => ({
  default: {
    put,
    batch: (list: [string, string][]) => list.map(([, url]) => status(url)),
    expectedStatuses: (...statuses: number[]) => ({ statuses }),
  },
}));
mock.module("k6", () => ({
  sleep: (seconds: number) => {
    onSleep();
    Bun.sleepSync(seconds * 1000);
  },
}));
mock.module("k6/metrics", () => ({
  Trend: class {
    add(value: number, tags: Record<string, string>) {
      samples.push({ value, tags });
    }
  },
  Rate: class {
    add(value: boolean) {
      failedRate.push(value);
    }
  },
}));

let copies = 0;
/** A fresh copy of the script with these -e settings. */
async function script(env: Record<string, string>): Promise<{ putFollowingLeader: (path: string, body: string) => string }> {
  (globalThis as { __ENV?: Record<string, string> }).__ENV = env;
  const path = `./leader.js?copy=${++copies}`;
  return await import(path);
}

beforeEach(() => {
  requests = [];
  samples = [];
  failedRate = [];
  onSleep = () => {};
});

test("a fixed leader: one request per write, acknowledged, one write_ms sample", async () => {
  nodes = { "http://a:1": { role: "leader", epoch: 0 } };
  const { putFollowingLeader } = await script({ BASE_URL: "http://a:1" });
  expect(putFollowingLeader("/kv/key-1", "{}")).toBe("acknowledged");
  expect(requests).toEqual(["PUT http://a:1"]);
  expect(samples).toEqual([{ value: 2, tags: { outcome: "acknowledged", code: "" } }]);
  expect(failedRate).toEqual([false]);
});

test("421: the write goes to the leader named, and the VU's next writes too", async () => {
  nodes = { "http://a:1": { role: "follower", epoch: 2, leader: "http://b:2" }, "http://b:2": { role: "leader", epoch: 2 } };
  const { putFollowingLeader } = await script({ BASE_URL: "http://a:1" });
  expect(putFollowingLeader("/kv/key-1", "{}")).toBe("acknowledged");
  expect(putFollowingLeader("/kv/key-2", "{}")).toBe("acknowledged");
  expect(requests).toEqual(["PUT http://a:1", "PUT http://b:2", "PUT http://b:2"]);
  // One sample per write: the 421 and its retry are one write of 2 + 2 ms.
  expect(samples.map((s) => s.value)).toEqual([4, 2]);
});

test("503 no_leader: the nodes' /status are polled until one leads, then the write goes there", async () => {
  nodes = { "http://a:1": { role: "candidate", epoch: 3 }, "http://b:2": { role: "follower", epoch: 3 } };
  let sleeps = 0;
  onSleep = () => {
    if (++sleeps === 3) nodes["http://b:2"] = { role: "leader", epoch: 4 };
  };
  const { putFollowingLeader } = await script({ BASE_URL: "http://a:1", PEERS: "http://b:2" });
  expect(putFollowingLeader("/kv/key-1", "{}")).toBe("acknowledged");
  expect(requests.filter((r) => r.startsWith("GET")).length).toBeGreaterThanOrEqual(6);
  expect(requests.filter((r) => r.startsWith("PUT"))).toEqual(["PUT http://a:1", "PUT http://b:2"]);
});

test("a refused connection: a node learnt from PEERS that leads takes the write", async () => {
  nodes = { "http://a:1": { role: "leader", epoch: 1, down: true }, "http://b:2": { role: "leader", epoch: 2 } };
  const { putFollowingLeader } = await script({ BASE_URL: "http://a:1", PEERS: "http://b:2" });
  expect(putFollowingLeader("/kv/key-1", "{}")).toBe("acknowledged");
  expect(requests.at(-1)).toBe("PUT http://b:2");
});

test("no leader within LEADER_WAIT_MS: the write fails as leader_not_found", async () => {
  nodes = { "http://a:1": { role: "candidate", epoch: 1 }, "http://b:2": { role: "follower", epoch: 1 } };
  const { putFollowingLeader } = await script({ BASE_URL: "http://a:1", PEERS: "http://b:2", LEADER_WAIT_MS: "100" });
  expect(putFollowingLeader("/kv/key-1", "{}")).toBe("failed");
  expect(samples.map((s) => s.tags)).toEqual([{ outcome: "failed", code: "leader_not_found" }]);
  expect(failedRate).toEqual([true]);
  expect(requests.filter((r) => r.startsWith("PUT"))).toEqual(["PUT http://a:1"]);
});

test("a reset after the write was sent: indeterminate, and not sent again", async () => {
  nodes = { "http://a:1": { role: "leader", epoch: 1, resets: true }, "http://b:2": { role: "leader", epoch: 2 } };
  const { putFollowingLeader } = await script({ BASE_URL: "http://a:1", PEERS: "http://b:2" });
  expect(putFollowingLeader("/kv/key-1", "{}")).toBe("indeterminate");
  expect(requests).toEqual(["PUT http://a:1"]);
  expect(samples.map((s) => s.tags)).toEqual([{ outcome: "indeterminate", code: "k6_error_1220" }]);
  expect(failedRate).toEqual([false]);
});
