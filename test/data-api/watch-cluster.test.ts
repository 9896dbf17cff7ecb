import { afterEach, expect, test } from "bun:test";
import { type Cluster, startCluster } from "../../src/cluster.ts";
import { readSse } from "../../tools/lib/sse.ts";
import { http } from "../helpers.ts";

let cluster: Cluster | undefined;
afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

test("a watcher from offset 0 on a follower gets every change of a 10,000-write run in order, across a reconnect with Last-Event-ID", async () => {
  cluster = await startCluster({ followers: 5, writeQuorum: 3, minDelayMs: 0, maxDelayMs: 1 });
  const follower = cluster.followers[3]!;
  const writes = 10_000;
  const received: { key: string; value: unknown; offset: number; id?: string }[] = [];
  let lastId: string | undefined;
  let connections = 0;
  /** Reads until `until` is true or the stream ends; returns whether it stopped on purpose. */
  const watch = async (until: () => boolean) => {
    const controller = new AbortController();
    connections++;
    const headers: Record<string, string> = lastId === undefined ? {} : { "last-event-id": lastId };
    const response = await fetch(`${follower.url}/watch${lastId === undefined ? "?fromOffset=0" : ""}`, { headers, signal: controller.signal });
    expect(response.status).toBe(200);
    try {
      for await (const event of readSse(response.body!)) {
        expect(event.event).toBe("change");
        received.push({ ...JSON.parse(event.data), id: event.id });
        if (event.id !== undefined) lastId = event.id;
        if (until()) break;
      }
    } finally {
      controller.abort();
    }
  };
  const first = watch(() => received.length >= 3000);
  let next = 0;
  const writer = async () => {
    while (next < writes) {
      const i = next++;
      const answer = await http(`${cluster!.leader.url}/kv/w${i % 500}`, { method: "PUT", json: { value: i } });
      if (answer.status !== 200) throw new Error(`write ${i}: ${JSON.stringify(answer)}`);
    }
  };
  const writers = Promise.all(Array.from({ length: 20 }, writer));
  await first; // the client went away mid-run; it comes back with the last id it saw
  expect(next).toBeLessThan(writes);
  await watch(() => received.length >= writes);
  await writers;
  expect(connections).toBe(2);
  const leaderStatus = (await http(`${cluster.leader.url}/status`)).body;
  expect(leaderStatus.commitOffset).toBe(writes);
  expect(received.map((change) => change.offset)).toEqual(Array.from({ length: writes }, (_, i) => i + 1));
  expect(received.every((change) => change.id === String(change.offset))).toBe(true);
  // Every change is the committed write at its offset: the follower's final state agrees.
  const latest = new Map(received.map((change) => [change.key, change]));
  for (const [key, change] of latest) {
    const read = await http(`${follower.url}/kv/${key}?minOffset=${writes}`);
    expect(read.body).toEqual({ key, value: change.value, offset: change.offset });
  }
}, 120_000);
