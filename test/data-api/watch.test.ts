import { afterEach, expect, test } from "bun:test";
import { formatChanges } from "../../src/http/watch-routes.ts";
import { inProcessCluster, jsonRequest } from "../../src/in-process-cluster.ts";
import { watchersMax } from "../../src/node/watch-feed.ts";
import { readSse, type SseEvent } from "../../tools/lib/sse.ts";

let cluster: ReturnType<typeof inProcessCluster>;
afterEach(() => cluster?.stop());

type App = { request: (path: string, init?: RequestInit) => Response | Promise<Response> };
const put = (key: string, value: unknown) => cluster.leader.app.request(`/kv/${key}`, jsonRequest("PUT", { value }));

/** The first `count` events of a watch, then the stream is closed. */
async function events(app: App, path: string, count: number, headers: Record<string, string> = {}): Promise<SseEvent[]> {
  const response = await app.request(path, { headers });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toContain("text/event-stream");
  const seen: SseEvent[] = [];
  for await (const event of readSse(response.body!)) {
    seen.push(event);
    if (seen.length >= count) break;
  }
  return seen;
}

test("a watcher on a follower gets every committed change from fromOffset in order, deletes and txn changes included", async () => {
  cluster = inProcessCluster();
  await put("a", 1);
  await put("b", { x: 2 });
  await cluster.leader.app.request("/kv/a", { method: "DELETE" });
  await cluster.leader.app.request(
    "/txn",
    jsonRequest("POST", {
      success: [
        { op: "put", key: "c", value: 3 },
        { op: "put", key: "skip/d", value: 4 },
      ],
    }),
  );
  const follower = cluster.followers[1]!.app;
  const seen = events(follower, "/watch?fromOffset=1", 5);
  const got = await seen;
  expect(got.map((event) => [event.event, JSON.parse(event.data), event.id])).toEqual([
    ["change", { key: "a", value: 1, offset: 1 }, "1"],
    ["change", { key: "b", value: { x: 2 }, offset: 2 }, "2"],
    ["change", { key: "a", deleted: true, offset: 3 }, "3"],
    ["change", { key: "c", value: 3, offset: 4 }, undefined],
    ["change", { key: "skip/d", value: 4, offset: 4 }, "4"],
  ]);
  // Live changes arrive too, filtered by prefix; Last-Event-ID resumes after the offset named.
  const live = events(follower, "/watch?prefix=skip/", 1, { "last-event-id": "4" });
  await put("other", 0);
  await put("skip/e", 5);
  expect((await live).map((event) => JSON.parse(event.data))).toEqual([{ key: "skip/e", value: 5, offset: 6 }]);
});

test("410 compacted when the node no longer holds fromOffset; bad parameters are 400", async () => {
  cluster = inProcessCluster({ env: { LOG_RETENTION: "1" } });
  const follower = cluster.followers[4]!;
  cluster.transport.setDown(follower.url, true);
  for (let i = 0; i < 3; i++) await put(`k${i}`, i);
  cluster.transport.setDown(follower.url, false);
  // The log keeps one entry: the follower catches up by snapshot, and holds changes only from there.
  const deadline = Date.now() + 10_000;
  while (follower.node.state.appliedOffset < 3 && Date.now() < deadline) await Bun.sleep(10);
  const snapshotOffset = follower.node.state.changes.completeAfter;
  expect(snapshotOffset).toBeGreaterThanOrEqual(2);
  const gone = await follower.app.request("/watch?fromOffset=1");
  expect(gone.status).toBe(410);
  expect(await gone.json()).toMatchObject({ error: "compacted", fromOffset: 1, oldestOffset: snapshotOffset + 1 });
  const resumedTooEarly = await follower.app.request("/watch", { headers: { "last-event-id": "1" } });
  expect(resumedTooEarly.status).toBe(410);
  await resumedTooEarly.body?.cancel();
  const leaderAnswer = await cluster.leader.app.request("/watch?fromOffset=1");
  expect(leaderAnswer.status).toBe(200);
  await leaderAnswer.body!.cancel();
  for (const query of ["fromOffset=-1", "fromOffset=x", `prefix=${"p".repeat(1025)}`]) {
    expect((await cluster.leader.app.request(`/watch?${query}`)).status).toBe(400);
  }
  expect((await cluster.leader.app.request("/watch", { headers: { "last-event-id": "nope" } })).status).toBe(400);
});

test("formatChanges: one event per change, the id only on the last change of an offset", () => {
  expect(
    formatChanges([
      { key: "a", value: "1", offset: 7 },
      { key: "b", value: null, offset: 7 },
      { key: "c", value: '"x"', offset: 8 },
    ]),
  ).toBe(
    'event: change\ndata: {"key":"a","value":1,"offset":7}\n\n' +
      'event: change\ndata: {"key":"b","deleted":true,"offset":7}\nid: 7\n\n' +
      'event: change\ndata: {"key":"c","value":"x","offset":8}\nid: 8\n\n',
  );
});

test(`the ${watchersMax + 1}th watch stream of a node is 503 overloaded; closing one frees its slot`, async () => {
  cluster = inProcessCluster({ followers: 1, env: { WRITE_QUORUM: "1" } });
  const app = cluster.followers[0]!.app;
  const open = await Promise.all(Array.from({ length: watchersMax }, () => app.request("/watch")));
  expect(open.every((response) => response.status === 200)).toBe(true);
  const refused = await app.request("/watch");
  expect(refused.status).toBe(503);
  expect(await refused.json()).toMatchObject({ error: "overloaded", bound: "watchers", limit: watchersMax });
  await Promise.all(open.map((response) => response.body!.cancel()));
  // A cancelled stream releases its slot once its loop wakes (a change, or the keepalive).
  await put("wake", 1);
  const deadline = Date.now() + 10_000;
  let again = await app.request("/watch");
  while (again.status !== 200 && Date.now() < deadline) {
    await Bun.sleep(20);
    again = await app.request("/watch");
  }
  expect(again.status).toBe(200);
  await again.body!.cancel();
});
