import { describe, expect, test } from "bun:test";
import { FollowerCore } from "../../src/core/follower.ts";
import type { StateMachine } from "../../src/core/state-machine.ts";
import type { ReplicateMessage } from "../../src/core/types.ts";
import { SimContext } from "../../src/sim/context.ts";
import { EventQueue } from "../../src/sim/event-queue.ts";
import { formatReply } from "../../src/sim/format.ts";
import { Random } from "../../src/sim/random.ts";
import { drawScenario } from "../../src/sim/scenario.ts";
import { type Answer, type Call, type CallOwner, SimFollower } from "../../src/sim/sim-follower.ts";
import { Trace } from "../../src/sim/trace.ts";

const gapWaitUs = 5000;

function setUp() {
  const rng = new Random(1);
  const scenario = { ...drawScenario(rng, { followers: 1, writes: 0, faults: false, leaderRestarts: "never", deposedLeaders: false }), gapWaitUs };
  const queue = new EventQueue();
  const context = new SimContext(queue, rng, scenario, new Trace(false));
  const answers: string[] = [];
  const watched: StateMachine[] = [];
  const positions: Answer[] = [];
  const crashes: number[] = [];
  const follower = new SimFollower(0, context, (incarnation) => new FollowerCore(incarnation), {
    watch: (_follower, state) => watched.push(state),
    crashing: (_follower, held) => crashes.push(held.appliedOffset + held.pending.length),
    answer: (_follower, call, answer) => {
      if (answer.kind === "position" || answer.kind === "recovery_data") positions.push(answer);
      const what = answer.kind === "reply" || answer.kind === "snapshot_reply" ? formatReply(answer.reply) : answer.kind === "failure" ? answer.reason : answer.kind;
      answers.push(`${queue.nowUs} #${call?.id} ${what}`);
    },
  });
  const send = (id: number, prevOffset: number, count: number) => {
    const message: ReplicateMessage = {
      epoch: 1,
      leaderId: "leader",
      prevOffset,
      prevEpoch: prevOffset === 0 ? 0 : 1,
      entries: Array.from({ length: count }, (_, i) => ({ offset: prevOffset + 1 + i, epoch: 1, key: "k", value: `${prevOffset + 1 + i}` })),
      commitOffset: prevOffset + count,
    };
    follower.deliver(callNumber(id), message);
  };
  const runAll = () => {
    while (queue.runNext());
  };
  return { queue, follower, answers, watched, positions, crashes, send, runAll };
}

const owner: CallOwner = { name: "L1", onAnswer: () => {} };

function callNumber(id: number): Call {
  return { id, follower: 0, owner, settled: false };
}

describe("SimFollower (follower-node's gap wait)", () => {
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
    expect(answers).toEqual([`${gapWaitUs} #7 gap last=0 i0`]);
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

  test("a crash resets held calls, a down process refuses, and a restart is empty with a new incarnation", () => {
    const { queue, follower, answers, crashes, send, runAll } = setUp();
    send(1, 0, 2);
    send(2, 5, 1);
    queue.at(10, () => follower.crash());
    queue.at(20, () => send(3, 2, 1));
    queue.at(30, () => follower.restart());
    queue.at(40, () => send(4, 0, 1));
    runAll();
    expect(answers).toEqual(["0 #1 ok last=2 i0", "10 #2 reset", "20 #3 refused", "40 #4 ok last=1 i1"]);
    expect(follower.heldAtCrash.map((held) => held.appliedOffset + held.pending.length)).toEqual([2]);
    expect(crashes).toEqual([2]);
    expect(follower.core.incarnation).toBe(1);
  });

  test("a snapshot replaces the state, is handed to watch, and releases messages held behind it", () => {
    const { queue, follower, answers, watched, send, runAll } = setUp();
    send(2, 10, 1);
    queue.at(5, () =>
      follower.deliverSnapshot(callNumber(1), {
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

  test("answers a restarting leader's position and recovery requests, fencing at the epoch given", () => {
    const { queue, follower, answers, positions, runAll } = setUp();
    const entries = [1, 2, 3].map((offset) => ({ offset, epoch: 1, key: "k", value: `${offset}` }));
    follower.deliver(callNumber(1), { epoch: 1, leaderId: "leader", prevOffset: 0, prevEpoch: 0, entries, commitOffset: 0 });
    queue.at(10, () => follower.deliver(callNumber(2), { epoch: 1, leaderId: "leader", prevOffset: 3, prevEpoch: 1, entries: [], commitOffset: 2 }));
    queue.at(20, () => follower.position(callNumber(3), null));
    queue.at(30, () => follower.recoveryData(callNumber(4)));
    queue.at(40, () => follower.position(callNumber(5), 7));
    queue.at(50, () => follower.deliver(callNumber(6), { epoch: 1, leaderId: "leader", prevOffset: 3, prevEpoch: 1, entries: [], commitOffset: 3 }));
    runAll();
    expect(positions[0]).toMatchObject({ kind: "position", position: { url: "f0", epoch: 1, lastOffset: 3, lastEntryEpoch: 1, appliedOffset: 2 } });
    expect(positions[1]).toMatchObject({ kind: "recovery_data", data: { epoch: 1, appliedOffset: 2, appliedEpoch: 1, entries: [{ offset: 3 }] } });
    expect(positions[1]!.kind === "recovery_data" && positions[1]!.data.pairs).toEqual([["k", "2", 2]]);
    // Fenced at epoch 7: it reports the epoch it had seen, and refuses the epoch-1 leader from then on.
    expect(positions[2]).toMatchObject({ kind: "position", position: { epoch: 1, lastOffset: 3, appliedOffset: 2 } });
    expect(follower.core.epoch).toBe(7);
    expect(answers.at(-1)).toBe("50 #6 stale_epoch e7");
    expect(follower.core.appliedOffset).toBe(2);
  });
});
