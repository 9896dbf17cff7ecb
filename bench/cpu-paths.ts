import { resolve } from "node:path";
import { parseToolFlags } from "../src/flags.ts";
import { ownCpuMicroseconds } from "./lib/process-cpu.ts";

/**
 * CPU of the write path's pieces inside one process, for before/after figures of one change:
 * run it in two worktrees (`--tree`), alternating. Each figure is CPU time (process.cpuUsage),
 * not wall time, so other jobs on the machine disturb it less than writes/s.
 */
const flags = parseToolFlags(
  "bench:paths",
  `Usage: bun run bench:paths [--tree DIR] [--rounds 3]

Prints, per round, µs of CPU: to validate an 8-entry replicate message (zod, JSON.parse excluded);
for a follower to take one as a stream frame (parse, validate, apply, answer: answerReplication);
for one PUT through the leader's app in an in-process cluster (5 follower cores in this process
too, no sockets); and ns per entry a StateMachine applies. --tree imports the code of another
worktree (e.g. one at the commit before a change) so both run the same measurement.`,
  {
    tree: { type: "string", default: ".", help: "worktree whose src/ is measured" },
    rounds: { type: "number", default: 3, integer: true, min: 1, help: "rounds, printed each" },
  },
);

const root = resolve(flags.tree);
const { replicateMessageSchema, answerReplication } = await import(`${root}/src/http/internal-routes.ts`);
const { inProcessCluster, jsonRequest } = await import(`${root}/src/in-process-cluster.ts`);
const { StateMachine } = await import(`${root}/src/core/state-machine.ts`);

const cpuPer = async (count: number, run: () => unknown): Promise<number> => {
  const beforeUs = ownCpuMicroseconds();
  await run();
  return (ownCpuMicroseconds() - beforeUs) / count;
};

/** Stream frames of 8 entries each from `prevOffset`, as the leader sends them. */
const frames = (count: number, prevOffset = 0) =>
  Array.from({ length: count }, (_, m) => {
    const from = prevOffset + m * 8;
    const entries = Array.from({ length: 8 }, (_, i) => ({ offset: from + 1 + i, epoch: 1, key: `key-${(from + i) % 100}`, value: `"value-${from + i}"` }));
    const body = { epoch: 1, leaderId: "leader", prevOffset: from, prevEpoch: from === 0 ? 0 : 1, entries, commitOffset: from, writeQuorumFloor: 3 };
    return JSON.stringify({ id: m + 1, kind: "replicate", body });
  });

async function validation(): Promise<number> {
  const texts = frames(1000);
  const count = 100_000;
  const parseUs = await cpuPer(count, () => {
    for (let i = 0; i < count; i++) JSON.parse(texts[i % 1000]!);
  });
  const bothUs = await cpuPer(count, () => {
    for (let i = 0; i < count; i++) if (!replicateMessageSchema.safeParse(JSON.parse(texts[i % 1000]!).body).success) throw new Error("invalid");
  });
  return bothUs - parseUs;
}

async function followerMessages(): Promise<number> {
  const cluster = inProcessCluster({ followers: 1 });
  const follower = cluster.followers[0]!.node;
  const count = 20_000;
  const texts = frames(count + 2_000);
  const take = async (text: string) => {
    const frame = JSON.parse(text);
    const answer = await answerReplication(follower, "replicate", frame.body);
    if (answer.status !== 200) throw new Error(JSON.stringify(answer.body));
    return JSON.stringify({ id: frame.id, status: answer.status, body: answer.body });
  };
  for (const text of texts.slice(0, 2_000)) await take(text);
  const us = await cpuPer(count, async () => {
    for (const text of texts.slice(2_000)) await take(text);
  });
  cluster.stop();
  return us;
}

async function puts(): Promise<number> {
  const cluster = inProcessCluster();
  let sequence = 0;
  const run = async (total: number) => {
    let next = 0;
    const client = async () => {
      while (next++ < total) {
        const n = sequence++;
        const body = JSON.stringify({ value: `value-${n}` });
        const init = jsonRequest("PUT", { value: `value-${n}` }, { "content-length": String(body.length) });
        const response = await cluster.leader.app.request(`/kv/key-${n % 100}`, init);
        if (response.status !== 200) throw new Error(await response.text());
        await response.text();
      }
    };
    await Promise.all(Array.from({ length: 20 }, client));
  };
  await run(5_000);
  const us = await cpuPer(20_000, () => run(20_000));
  cluster.stop();
  return us;
}

async function applies(): Promise<number> {
  const state = new StateMachine();
  const count = 1_000_000;
  const pairs = Array.from({ length: 1000 }, (_, i) => ({ key: `key-${i % 100}`, value: `"value-${i}"` }));
  return (
    (await cpuPer(count, () => {
      for (let offset = 1; offset <= count; offset++) state.apply({ offset, epoch: 1, ...pairs[offset % 1000]! });
    })) * 1000
  );
}

for (let round = 1; round <= flags.rounds; round++) {
  const figures = [
    `validate ${(await validation()).toFixed(2)} µs/message`,
    `follower ${(await followerMessages()).toFixed(2)} µs/message`,
    `PUT ${(await puts()).toFixed(2)} µs`,
    `apply ${(await applies()).toFixed(0)} ns/entry`,
  ];
  console.log(`round ${round} (${flags.tree}): ${figures.join(", ")}`);
}
process.exit(0);
