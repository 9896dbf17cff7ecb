import { describe, expect, test } from "bun:test";
import type { StateMachine } from "../../src/core/state-machine.ts";
import type { ReplicateMessage, ReplicateReply, SnapshotChunk, SnapshotReply } from "../../src/core/types.ts";
import { SimContext } from "../../src/sim/context.ts";
import { EventQueue } from "../../src/sim/event-queue.ts";
import { type Failure, FollowerHost, isFailure } from "../../src/sim/follower-host.ts";
import { Random } from "../../src/sim/random.ts";
import { drawScenario } from "../../src/sim/scenario.ts";
import { Trace } from "../../src/sim/trace.ts";

const gapWaitMs = 5;

/** One production FollowerNode on its simulated host, with the gap wait short. */
function setUp() {
  const rng = new Random(1);
  const drawn = drawScenario(rng, { followers: 1, writes: 0, faults: false, leaderRestarts: "never", deposedLeaders: false });
  const scenario = { ...drawn, timings: { ...drawn.timings, gapWaitMs }, diskSyncDelay: { minUs: 0, maxUs: 0 } };
  const queue = new EventQueue();
  const context = new SimContext(queue, rng, scenario, new Trace(false));
  const answers: string[] = [];
  const watched: StateMachine[] = [];
  const follower = new FollowerHost(0, context, undefined, {
    watch: (_follower, state) => watched.push(state),
    mayCorrupt: () => false,
    lostSynced: () => {},
  });
  /** `i0`, `i1`…: which process answered, by start order (incarnations themselves are random). */
  const show = (id: number, answer: ReplicateReply | SnapshotReply | Failure) => {
    if (isFailure(answer)) return `${queue.nowUs} #${id} ${answer.failure}`;
    const process = answer.kind === "stale_epoch" ? "" : ` i${follower.ordinalOf(answer.incarnation)}`;
    const what = answer.kind === "stale_epoch" ? `e${answer.epoch}` : answer.kind === "chunk_ok" ? `${answer.chunk}` : `last=${answer.lastOffset}`;
    return `${queue.nowUs} #${id} ${answer.kind} ${what}${process}`;
  };
  const deliver = (id: number, message: ReplicateMessage) =>
    follower.handle<ReplicateReply>(
      `#${id}`,
      (node, reply) => node.replicate(message, reply),
      (answer) => answers.push(show(id, answer)),
    );
  const deliverSnapshot = (id: number, chunk: SnapshotChunk) =>
    follower.handle<SnapshotReply>(
      `#${id}`,
      (node, reply) => node.receiveSnapshot(chunk, reply),
      (answer) => answers.push(show(id, answer)),
    );
  const send = (id: number, prevOffset: number, count: number) =>
    deliver(id, {
      epoch: 1,
      leaderId: "leader",
      prevOffset,
      prevEpoch: prevOffset === 0 ? 0 : 1,
      entries: Array.from({ length: count }, (_, i) => ({ offset: prevOffset + 1 + i, epoch: 1, key: "k", value: `${prevOffset + 1 + i}` })),
      commitOffset: prevOffset + count,
    });
  const runAll = () => {
    while (queue.runNext());
  };
  return { queue, follower, answers, watched, send, deliver, deliverSnapshot, runAll };
}

describe("FollowerNode (src/node/follower-node.ts) on its simulated host", () => {
  test("holds a message that arrived ahead of a gap and answers it once the gap fills", () => {
    const { queue, follower, answers, send, runAll } = setUp();
    send(2, 2, 1);
    send(3, 1, 1);
    expect(answers).toEqual([]);
    queue.at(100, () => send(1, 0, 1));
    runAll();
    expect(answers).toEqual(["100 #1 ok last=1 i0", "100 #3 ok last=2 i0", "100 #2 ok last=3 i0"]);
    expect(follower.core.appliedOffset).toBe(3);
  });

  test("answers gap when the wait runs out", () => {
    const { answers, send, runAll } = setUp();
    send(7, 4, 2);
    runAll();
    expect(answers).toEqual([`${gapWaitMs * 1000} #7 gap last=0 i0`]);
  });

  test("a paused process answers nothing until it resumes, then everything in arrival order", () => {
    const { queue, follower, answers, send, runAll } = setUp();
    follower.pause();
    send(1, 0, 1);
    send(2, 1, 1);
    queue.at(50, () => follower.resume());
    runAll();
    expect(answers).toEqual(["50 #1 ok last=1 i0", "50 #2 ok last=2 i0"]);
  });

  test("a crash resets held calls and silences its timers, a down process refuses, and a restart starts from the disk with a new incarnation", () => {
    const { queue, follower, answers, send, runAll } = setUp();
    send(1, 0, 2);
    send(2, 5, 1);
    queue.at(10, () => follower.crash());
    queue.at(20, () => send(3, 2, 1));
    queue.at(30, () => follower.restart());
    queue.at(40, () => send(4, 0, 1));
    runAll();
    // #2 was held for the gap wait: the crash answers it, and its gap timer never fires.
    expect(answers).toEqual(["0 #1 ok last=2 i0", "10 #2 reset", "20 #3 refused", "40 #4 ok last=1 i1"]);
    expect(follower.heldAtCrash.map((held) => held.appliedOffset + held.pending.length)).toEqual([2]);
    // The restarted process holds what its predecessor synced.
    expect(follower.core.lastOffset).toBe(2);
    expect(follower.incarnationIds.length).toBe(2);
    expect(follower.incarnationIds[0]).not.toBe(follower.incarnationIds[1]);
    expect(follower.core.incarnation).toBe(follower.incarnationIds[1]!);
  });

  test("a snapshot replaces the state, is handed to watch, and releases messages held behind it", () => {
    const { queue, follower, answers, watched, send, deliverSnapshot, runAll } = setUp();
    send(2, 10, 1);
    queue.at(5, () =>
      deliverSnapshot(1, {
        epoch: 1,
        leaderId: "leader",
        snapshotOffset: 10,
        snapshotEpoch: 1,
        chunk: 0,
        pairs: [["k", '"ten"', 10]],
        done: true,
        commitOffset: 11,
      }),
    );
    runAll();
    expect(answers).toEqual(["5 #1 ok last=10 i0", "5 #2 ok last=11 i0"]);
    expect(watched.length).toBe(2);
    expect(watched[1]).toBe(follower.core.state);
    expect(follower.snapshotsInstalled).toBe(1);
    expect(follower.core.state.get("k")).toMatchObject({ value: "11", offset: 11 });
  });

  test("answers a fence with the position before it, then refuses the older leader", () => {
    const { follower, answers, send, deliver, runAll } = setUp();
    send(1, 0, 3);
    runAll();
    const positions: unknown[] = [];
    follower.handle(
      "fence",
      (node, reply) => node.fence(7, "L2", reply),
      (answer) => positions.push(answer),
    );
    deliver(2, { epoch: 1, leaderId: "leader", prevOffset: 3, prevEpoch: 1, entries: [], commitOffset: 3 });
    runAll();
    expect(positions).toEqual([{ epoch: 1, lastOffset: 3, lastEntryEpoch: 1, appliedOffset: 3, writeQuorumFloor: null, writeQuorum: null }]);
    expect(follower.core.epoch).toBe(7);
    expect(answers.at(-1)).toBe("0 #2 stale_epoch e7");
  });
});
