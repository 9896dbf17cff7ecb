import { afterEach, expect, test } from "bun:test";
import { parseConfig } from "../../src/config.ts";
import { constants } from "../../src/core/constants.ts";
import { createApp } from "../../src/http/app.ts";
import { productionFollowerEnv } from "../../src/node/env.ts";
import { FollowerNode } from "../../src/node/follower-node.ts";

// Issue 11, item 3 "Also": a peer holding the token could fence every follower at epoch 2^53 − 1,
// install a snapshot at offset 2^53 − 1, or replicate keys no client could write. Each is now
// refused with 400 invalid_message and changes nothing.

const token = "test-token-0123456789";
let node: FollowerNode | undefined;
afterEach(() => node?.stop());

function follower() {
  node = new FollowerNode(parseConfig({ ROLE: "follower", CLUSTER_TOKEN: token, NODE_ID: "f", MAX_KEY_BYTES: "16" }), productionFollowerEnv());
  const app = createApp(node);
  const post = async (path: string, body: unknown) => {
    const response = await app.request(path, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  return { node, post };
}

const entry = (offset: number, key: string, value: string | null = '"v"') => ({ offset, epoch: 1, key, value });
const replicate = (entries: ReturnType<typeof entry>[], prevOffset = 1) => ({ epoch: 1, leaderId: "L", prevOffset, prevEpoch: 1, entries, commitOffset: 0 });

test("fences, replicate messages and snapshots no honest peer sends are refused, 400 invalid_message, and change nothing", async () => {
  const { node, post } = follower();
  expect((await post("/internal/replicate", replicate([entry(1, "a")], 0))).status).toBe(200);
  const before = () => ({ epoch: node.epoch, lastOffset: node.lastOffset, digest: node.state.digest() });
  const start = before();
  const attacks: [string, string, unknown][] = [
    ["fence at 2^53 - 1", "/internal/fence", { epoch: Number.MAX_SAFE_INTEGER, leaderId: "x" }],
    ["fence beyond epochJumpMax", "/internal/fence", { epoch: 2 + constants.epochJumpMax, leaderId: "x" }],
    ["replicate at a far epoch", "/internal/replicate", { ...replicate([entry(2, "b")]), epoch: 2 ** 52 }],
    ["an empty key with a value", "/internal/replicate", replicate([entry(2, "", '"v"')])],
    ["a control character", "/internal/replicate", replicate([entry(2, "a\u0007b")])],
    ["a key over MAX_KEY_BYTES", "/internal/replicate", replicate([entry(2, "k".repeat(17))])],
    ["entries far ahead", "/internal/replicate", replicate([entry(10_000_000, "b")], 9_999_999)],
    [
      "a snapshot at 2^53 - 1",
      "/internal/snapshot",
      {
        epoch: 1,
        leaderId: "L",
        snapshotOffset: Number.MAX_SAFE_INTEGER,
        snapshotEpoch: 1,
        chunk: 0,
        pairs: [],
        done: true,
        commitOffset: Number.MAX_SAFE_INTEGER,
      },
    ],
    [
      "a snapshot beyond its commit",
      "/internal/snapshot",
      { epoch: 1, leaderId: "L", snapshotOffset: 50, snapshotEpoch: 1, chunk: 0, pairs: [["k", "1", 1]], done: true, commitOffset: 10 },
    ],
  ];
  for (const [name, path, body] of attacks) {
    const answer = await post(path, body);
    expect([name, answer.status, answer.body.error]).toEqual([name, 400, "invalid_message"]);
    expect([name, before()]).toEqual([name, start]);
  }
  // The same routes still take what an honest leader sends: a marker, a fence one epoch up.
  expect((await post("/internal/replicate", replicate([entry(2, "", null)]))).status).toBe(200);
  expect((await post("/internal/fence", { epoch: 2, leaderId: "L2" })).status).toBe(200);
  expect(node.epoch).toBe(2);
});
