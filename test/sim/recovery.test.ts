import { describe, expect, test } from "bun:test";
import { type RecoveryPolicy, recoveryPolicy } from "../../src/core/recovery.ts";
import type { Entry, ReplicateReply } from "../../src/core/types.ts";
import { type Recovery, RecoveryFailed, runRecovery } from "../../src/node/recovery.ts";
import { nodeTimings } from "../../src/node/timings.ts";
import { SimContext } from "../../src/sim/context.ts";
import { EventQueue } from "../../src/sim/event-queue.ts";
import { FollowerHost } from "../../src/sim/follower-host.ts";
import { Network } from "../../src/sim/network.ts";
import { Random } from "../../src/sim/random.ts";
import { drawScenario } from "../../src/sim/scenario.ts";
import { ProcessTimers, SimClock } from "../../src/sim/sim-env.ts";
import { SimTransport } from "../../src/sim/sim-transport.ts";
import { Trace } from "../../src/sim/trace.ts";

const positionTimeoutMs = 30;
const linkUs = 100;

/**
 * The production recovery (src/node/recovery.ts) over the simulated network, against production
 * FollowerNodes: follower i holds `held[i]` entries of epoch 1, `applied[i]` of them applied.
 */
function setUp(held: number[], applied: number[], writeQuorum: number, policy: RecoveryPolicy = recoveryPolicy) {
  const rng = new Random(1);
  const drawn = drawScenario(rng, { followers: held.length, writes: 0, faults: false, leaderRestarts: "never", deposedLeaders: false });
  const timings = { ...nodeTimings, positionTimeoutMs, positionRetryMs: 5, recoverTimeoutMs: 50 };
  const scenario = { ...drawn, writeQuorum, timings, linkDelay: { minUs: linkUs, maxUs: linkUs }, diskSyncDelay: { minUs: 0, maxUs: 0 } };
  const queue = new EventQueue();
  const trace = new Trace(true);
  const context = new SimContext(queue, rng, scenario, trace);
  const network = new Network(context, held.length);
  network.lossy = false;
  const followers = held.map((_, index) => new FollowerHost(index, context, undefined, { watch: () => {}, mayCorrupt: () => false, lostSynced: () => {} }));
  for (const [index, follower] of followers.entries()) {
    const entries: Entry[] = Array.from({ length: held[index]! }, (_, i) => ({ offset: i + 1, epoch: 1, key: `k${i % 2}`, value: `"${i + 1}"` }));
    follower.node.replicate({ epoch: 1, leaderId: "L0", prevOffset: 0, prevEpoch: 0, entries, commitOffset: applied[index]! }, () => {});
  }
  const timers = new ProcessTimers(queue);
  const transport = new SimTransport("L1", context, network, followers, timers);
  const outcomes: Recovery[] = [];
  const start = () =>
    runRecovery(
      "L1",
      followers.map((follower) => follower.name),
      writeQuorum,
      { clock: new SimClock(queue), timers, transport, log: (line) => context.log(line), timings, policy },
      (recovery) => {
        if (recovery instanceof RecoveryFailed) throw recovery;
        outcomes.push(recovery);
      },
    );
  const runAll = () => {
    while (queue.nowUs < 1_000_000 && queue.runNext());
  };
  return { queue, followers, start, outcomes, trace, transport, runAll };
}

describe("recovery (src/node/recovery.ts) on the simulated network", () => {
  test("fences a majority (here also the recovery quorum), then takes over the most advanced follower's state and entries", () => {
    // WRITE_QUORUM 2 of 3: two followers needed. f2 is paused, so each round ends at its timeout.
    const { queue, followers, start, outcomes, runAll } = setUp([4, 6, 9], [2, 3, 5], 2);
    followers[2]!.pause();
    queue.at(10, () => start());
    runAll();
    expect(outcomes.length).toBe(1);
    const [outcome] = outcomes;
    expect(outcome!.positions.map((position) => position.url)).toEqual(["f0", "f1"]);
    expect(outcome!.recovered?.from).toBe("f1");
    expect(outcome!.recovered?.state.appliedOffset).toBe(3);
    expect(outcome!.recovered?.entries.map((entry) => entry.offset)).toEqual([4, 5, 6]);
    // Integer epochs: the followers had seen epoch 1, so the first fence (at 1) makes it fence at 2.
    expect(outcome!.epoch).toBe(2);
    expect(queue.nowUs).toBeGreaterThanOrEqual(2 * positionTimeoutMs * 1000);
  });

  test("rounds repeat until enough followers answer in one", () => {
    const { queue, followers, start, outcomes, trace, runAll } = setUp([1, 2, 3], [0, 0, 0], 1);
    followers[0]!.pause(); // WRITE_QUORUM 1 of 3: every follower must answer
    queue.at(0, () => start());
    queue.at(5 * positionTimeoutMs * 1000, () => followers[0]!.resume());
    runAll();
    expect(outcomes[0]?.recovered?.from).toBe("f2");
    expect(trace.lines.filter((line) => line.includes("timed out")).length).toBeGreaterThan(2);
  });

  test("with nothing held anywhere, epoch 1 and no takeover", () => {
    const { followers, start, outcomes, runAll } = setUp([0, 0, 0], [0, 0, 0], 2);
    for (const follower of followers) follower.crash();
    for (const follower of followers) follower.disk.wipe();
    for (const follower of followers) follower.restart();
    start();
    runAll();
    expect(outcomes).toEqual([{ epoch: 1, writeQuorumFloor: 2, writeQuorum: null, positions: expect.any(Array), candidates: expect.any(Array) }]);
  });

  test("starts over when the chosen follower no longer holds what it reported (reaches)", () => {
    const { queue, followers, start, outcomes, runAll } = setUp([4, 6, 9], [2, 3, 5], 2);
    queue.at(0, () => start());
    // Rounds at epochs 1 and 2 end at 200 and 400 µs; the fetch reaches f2 at 500 µs. f2 answers
    // its position (9 entries), then restarts empty (a new disk) before its data is fetched.
    queue.at(450, () => {
      followers[2]!.crash();
      followers[2]!.disk.wipe();
      followers[2]!.restart();
    });
    runAll();
    // Its data fell short of its position: a later round finds f1 the most advanced.
    const recovered = outcomes[0]!.recovered!;
    expect(recovered.from).toBe("f1");
    expect(recovered.entries.map((entry) => entry.offset)).toEqual([4, 5, 6]);
  });

  test("the same schedule without the check takes over the empty restarted follower (the mutant recovery-trusts-source)", () => {
    const { queue, followers, start, outcomes, runAll } = setUp([4, 6, 9], [2, 3, 5], 2, { ...recoveryPolicy, checksSource: false });
    queue.at(0, () => start());
    queue.at(450, () => {
      followers[2]!.crash();
      followers[2]!.disk.wipe();
      followers[2]!.restart();
    });
    runAll();
    expect(outcomes[0]!.recovered).toMatchObject({ from: "f2", entries: [] });
    expect(outcomes[0]!.recovered!.state.appliedOffset).toBe(0);
  });

  test("a failed fetch is retried, not fatal: recovery goes on once the follower answers", () => {
    const { queue, followers, start, outcomes, trace, runAll } = setUp([2, 5, 3], [1, 1, 1], 1);
    queue.at(0, () => start());
    // WRITE_QUORUM 1: every follower must answer. f1 is chosen; it pauses just as its data is
    // asked for, beyond the fetch timeout, and stays paused for many rounds.
    queue.at(450, () => followers[1]!.pause());
    queue.at(450 + 200_000, () => followers[1]!.resume());
    runAll();
    expect(outcomes.length).toBe(1);
    expect(outcomes[0]!.recovered?.from).toBe("f1");
    expect(outcomes[0]!.recovered?.entries.map((entry) => entry.offset)).toEqual([2, 3, 4, 5]);
    expect(trace.lines.some((line) => line.includes("fetching the data of f1 failed") && line.includes("trying the next most advanced"))).toBe(true);
  });

  test("fencing: followers adopt the new epoch before answering, and refuse the old leader from then on", () => {
    const { followers, start, outcomes, runAll } = setUp([3, 3, 3], [1, 1, 1], 2);
    start();
    runAll();
    const { epoch } = outcomes[0]!;
    expect(followers.map((follower) => follower.core.epoch)).toEqual([epoch, epoch, epoch]);
    const replies: ReplicateReply[] = [];
    followers[0]!.node.replicate({ epoch: 1, leaderId: "L0", prevOffset: 3, prevEpoch: 1, entries: [], commitOffset: 3 }, (reply) => replies.push(reply));
    runAll();
    expect(replies).toEqual([{ kind: "stale_epoch", epoch }]);
  });

  test("without fencing (the mutant recovery-skips-fence) positions are only read: the old leader is still accepted", () => {
    const { followers, start, outcomes, runAll } = setUp([3, 3, 3], [1, 1, 1], 2, { ...recoveryPolicy, fences: false });
    start();
    runAll();
    expect(outcomes[0]!.epoch).toBe(2);
    expect(followers.map((follower) => follower.core.epoch)).toEqual([1, 1, 1]);
  });
});
