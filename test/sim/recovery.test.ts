import { describe, expect, test } from "bun:test";
import { FollowerCore } from "../../src/core/follower.ts";
import type { Entry } from "../../src/core/types.ts";
import { SimContext } from "../../src/sim/context.ts";
import { EventQueue } from "../../src/sim/event-queue.ts";
import { Network } from "../../src/sim/network.ts";
import { Random } from "../../src/sim/random.ts";
import { drawScenario } from "../../src/sim/scenario.ts";
import { SimFollower } from "../../src/sim/sim-follower.ts";
import { nodeRecoveryPolicy, type RecoveryOutcome, type RecoveryPolicy, SimRecovery } from "../../src/sim/sim-recovery.ts";
import { Trace } from "../../src/sim/trace.ts";

const positionTimeoutUs = 30_000;

/** Three followers on a lossless network; `held[i]` entries of epoch 1 held by follower i, `applied[i]` of them applied. */
function setUp(held: number[], applied: number[], writeQuorum: number, policy: Partial<RecoveryPolicy> = {}) {
  const rng = new Random(1);
  const drawn = drawScenario(rng, { followers: held.length, writes: 0, faults: false, leaderRestarts: "never", deposedLeaders: false });
  const scenario = { ...drawn, writeQuorum, positionTimeoutUs, positionRetryUs: 5_000, recoverTimeoutUs: 50_000, replyDelay: { minUs: 100, maxUs: 100 } };
  const queue = new EventQueue();
  const trace = new Trace(true);
  const context = new SimContext(queue, rng, scenario, trace);
  const network = new Network(context, held.length);
  network.lossy = false;
  const followers = held.map(
    (count, index) =>
      new SimFollower(index, context, (incarnation) => new FollowerCore(incarnation), {
        watch: () => {},
        crashing: () => {},
        answer: (follower, call, answer) => network.carry(follower.index, "answer", scenario.replyDelay, () => call?.owner.onAnswer(call, answer)),
      }),
  );
  for (const [index, follower] of followers.entries()) {
    const entries: Entry[] = Array.from({ length: held[index]! }, (_, i) => ({ offset: i + 1, epoch: 1, key: `k${i % 2}`, value: `"${i + 1}"` }));
    follower.core.receive({ epoch: 1, leaderId: "L0", prevOffset: 0, prevEpoch: 0, entries, commitOffset: applied[index]! });
  }
  const outcomes: RecoveryOutcome[] = [];
  const failures: string[] = [];
  const recovery = new SimRecovery(
    "L1",
    context,
    followers,
    network,
    { ...nodeRecoveryPolicy, ...policy },
    (outcome) => outcomes.push(outcome),
    (reason) => failures.push(reason),
  );
  const runAll = () => {
    while (queue.nowUs < 1_000_000 && queue.runNext());
  };
  return { queue, followers, recovery, outcomes, failures, trace, runAll };
}

describe("SimRecovery (src/node/recovery.ts)", () => {
  test("hears from recoveryQuorum followers in one round, then takes over the most advanced one's state and entries", () => {
    // WRITE_QUORUM 2 of 3: two positions needed. f2 is paused, so the round ends at its timeout.
    const { queue, followers, recovery, outcomes, runAll } = setUp([4, 6, 9], [2, 3, 5], 2);
    followers[2]!.pause();
    queue.at(10, () => recovery.start());
    runAll();
    expect(outcomes.length).toBe(1);
    const [outcome] = outcomes;
    expect(outcome!.polled.map((polled) => polled.position.url)).toEqual(["f0", "f1"]);
    expect(outcome!.recovered?.from).toBe("f1");
    expect(outcome!.recovered?.state.appliedOffset).toBe(3);
    expect(outcome!.recovered?.entries.map((entry) => entry.offset)).toEqual([4, 5, 6]);
    // Epochs come from the clock: above every epoch seen, and the round took the position timeout.
    expect(outcome!.epoch).toBe(Math.floor((10 + positionTimeoutUs) / 1000));
  });

  test("rounds repeat until enough followers answer in one", () => {
    const { queue, followers, recovery, outcomes, trace, runAll } = setUp([1, 2, 3], [0, 0, 0], 1);
    followers[0]!.pause(); // WRITE_QUORUM 1 of 3: every follower must answer
    queue.at(0, () => recovery.start());
    queue.at(3 * positionTimeoutUs, () => followers[0]!.resume());
    runAll();
    expect(outcomes[0]?.recovered?.from).toBe("f2");
    expect(trace.lines.filter((line) => line.includes("positions needed answered")).length).toBeGreaterThan(2);
  });

  test("with nothing held anywhere, a new epoch and no takeover", () => {
    const { recovery, outcomes, runAll } = setUp([0, 0, 0], [0, 0, 0], 2);
    recovery.start();
    runAll();
    expect(outcomes).toEqual([{ epoch: 2, polled: expect.any(Array) }]);
  });

  test("recovery starts over when the chosen follower no longer holds what it reported", () => {
    const { queue, followers, recovery, outcomes, runAll } = setUp([4, 6, 9], [2, 3, 5], 2, { checksSource: true });
    queue.at(0, () => recovery.start());
    // f2 answers its position (9 entries), then restarts empty before its data is fetched.
    queue.at(250, () => {
      followers[2]!.crash();
      followers[2]!.restart();
    });
    runAll();
    // Its data fell short of its position: a second round finds f1 the most advanced.
    const recovered = outcomes[0]!.recovered!;
    expect(recovered.from).toBe("f1");
    expect(recovered.entries.map((entry) => entry.offset)).toEqual([4, 5, 6]);
  });

  test("fencing: position requests carry the epoch, which followers adopt before the old leader's next message", () => {
    const { followers, recovery, outcomes, runAll } = setUp([3, 3, 3], [1, 1, 1], 2, { fences: true });
    recovery.start();
    runAll();
    const { epoch } = outcomes[0]!;
    expect(followers.map((follower) => follower.core.epoch)).toEqual([epoch, epoch, epoch]);
    expect(followers[0]!.core.receive({ epoch: 1, leaderId: "L0", prevOffset: 3, prevEpoch: 1, entries: [], commitOffset: 3 })).toEqual({
      kind: "stale_epoch",
      epoch,
    });
  });
});
