import { expect, test } from "bun:test";
import type { ReplicateMessage } from "../core/types.ts";
import { parseConfig } from "../config.ts";
import { productionFollowerEnv, realClock, realTimers } from "./env.ts";
import { FollowerNode } from "./follower-node.ts";
import { InProcessTransport } from "./in-process-transport.ts";
import { ownUrl, recoverFromFollowers, storedRecoveryData } from "./recovery.ts";
import { TransportError } from "./transport.ts";

function followers(count: number) {
  const transport = new InProcessTransport();
  const urls = Array.from({ length: count }, (_, i) => `http://f${i}.test`);
  const nodes = urls.map((url, i) => {
    const node = new FollowerNode(parseConfig({ ROLE: "follower", CLUSTER_TOKEN: "test-token-0123456789", NODE_ID: `f${i}` }), productionFollowerEnv());
    transport.add(url, node);
    return node;
  });
  const recover = (writeQuorum: number, lines: string[]) =>
    recoverFromFollowers("L", urls, writeQuorum, { clock: realClock, timers: realTimers, transport, log: (line) => lines.push(line) });
  return { transport, urls, nodes, recover };
}

const entry = (offset: number, epoch: number) => ({ offset, epoch, key: `k${offset}`, value: String(offset) });
const replicate = (node: FollowerNode, message: ReplicateMessage) => new Promise((resolve) => node.replicate(message, resolve));

test("epochs are integers above every epoch the followers saw, never a clock reading", async () => {
  const { nodes, recover } = followers(3);
  const lines: string[] = [];
  expect((await recover(2, lines)).epoch).toBe(1);
  nodes[1]!.fence(7, "other", () => {});
  expect((await recover(2, lines)).epoch).toBe(8);
  expect(nodes.map((node) => node.epoch)).toEqual([8, 8, 8]);
});

test("when the chosen follower's data does not arrive, recovery takes the next most advanced if the rest are enough", async () => {
  const { transport, urls, nodes, recover } = followers(5);
  await replicate(nodes[0]!, { epoch: 1, leaderId: "L0", prevOffset: 0, prevEpoch: 0, entries: [1, 2, 3].map((o) => entry(o, 1)), commitOffset: 2 });
  for (const node of nodes.slice(1, 4)) {
    await replicate(node, { epoch: 1, leaderId: "L0", prevOffset: 0, prevEpoch: 0, entries: [1, 2].map((o) => entry(o, 1)), commitOffset: 2 });
  }
  const fetch = transport.recover.bind(transport);
  transport.recover = (url, timeoutMs, done) => {
    if (url === urls[0]) done(new TransportError(`${url}/internal/recover sent nothing for 2000 ms`));
    else fetch(url, timeoutMs, done);
  };
  const lines: string[] = [];
  const recovery = await recover(3, lines);
  expect(recovery.recovered?.from).toBe(urls[1]);
  expect(recovery.recovered?.state.appliedOffset).toBe(2);
  expect(lines[0]).toBe(
    `recovery: fetching the data of ${urls[0]} failed (${urls[0]}/internal/recover sent nothing for 2000 ms); trying the next most advanced`,
  );
});

test("recovery gives up after its rounds when too few followers answer, having said why", async () => {
  const { transport, urls } = followers(3);
  transport.setDown(urls[0]!, true);
  transport.setDown(urls[1]!, true);
  const lines: string[] = [];
  const env = { clock: realClock, timers: realTimers, transport, log: (line: string) => lines.push(line), timings: { positionRetryMs: 1 }, roundsMax: 3 };
  const recovery = recoverFromFollowers("L", urls, 2, env);
  await expect(recovery).rejects.toThrow("recovery gave up after 3 rounds");
  expect(lines[0]).toBe("recovery: waiting for followers, 1 of the 2 needed answered");
});

test("a leader restarting with its own stored log takes it when it is the most advanced, a follower's when that is", async () => {
  const { transport, urls, nodes } = followers(3);
  for (const node of nodes) {
    await replicate(node, { epoch: 1, leaderId: "L0", prevOffset: 0, prevEpoch: 0, entries: [1, 2].map((o) => entry(o, 1)), commitOffset: 1 });
  }
  const recoverWith = (entries: ReturnType<typeof entry>[]) =>
    recoverFromFollowers("L", urls, 2, {
      clock: realClock,
      timers: realTimers,
      transport,
      log: () => {},
      own: { epoch: 0, appliedOffset: 0, appliedEpoch: 0, pairs: [], entries },
    });
  const ahead = await recoverWith([1, 2, 3].map((o) => entry(o, 1)));
  expect(ahead.recovered?.from).toBe(ownUrl);
  expect(ahead.recovered?.entries.map((e) => e.offset)).toEqual([1, 2, 3]);
  const behind = await recoverWith([entry(1, 1)]);
  expect(behind.recovered?.from).toBe(urls[0]);
  expect(behind.recovered?.state.appliedOffset).toBe(1);
  expect(behind.recovered?.entries.map((e) => e.offset)).toEqual([2]);
});

test("a leader's stored snapshot and log (storedRecoveryData) are recovered as its state and the entries after it", async () => {
  const { transport, urls, nodes } = followers(3);
  for (const node of nodes) {
    await replicate(node, { epoch: 1, leaderId: "L0", prevOffset: 0, prevEpoch: 0, entries: [1, 2].map((o) => entry(o, 1)), commitOffset: 1 });
  }
  const stored = {
    epoch: 4,
    writeQuorum: null,
    writeQuorumFloor: null,
    snapshot: { offset: 2, epoch: 1, pairs: [["k1", "1", 1] as [string, string, number], ["k2", "2", 2] as [string, string, number]] },
    entries: [entry(3, 1), entry(4, 1)],
  };
  const recovery = await recoverFromFollowers("L", urls, 2, {
    clock: realClock,
    timers: realTimers,
    transport,
    log: () => {},
    own: storedRecoveryData(stored),
  });
  expect(recovery.recovered?.from).toBe(ownUrl);
  expect(recovery.recovered?.state.appliedOffset).toBe(2);
  expect(recovery.recovered?.entries.map((e) => e.offset)).toEqual([3, 4]);
  expect(recovery.epoch).toBeGreaterThan(stored.epoch);
});
