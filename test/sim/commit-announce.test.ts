import { expect, test } from "bun:test";
import { runSimulation } from "../../src/sim/simulation.ts";

/**
 * A commit no batch carried is announced by the leader once a follower's link has been quiet
 * (commitAnnounceQuietMs), on a timer of its own: with heartbeats a minute apart and no faults,
 * that timer is the only way the followers learn the last commit after the writes stop, and
 * every seed must still converge within its drawn bound. Without the timer (the pump never armed
 * for it), 9 of these 30 seeds report `convergence`.
 */
test("with heartbeats a minute apart, every follower still learns the last commit: seeds 1–30 converge", () => {
  const failed = [];
  for (let seed = 1; seed <= 30; seed++) {
    const result = runSimulation({ seed, faults: false, heartbeatMs: 60_000 });
    if (result.violations.length > 0) failed.push({ seed, violations: result.violations.slice(0, 2).map((v) => `${v.invariant}: ${v.message}`) });
    else expect(result.convergenceUs).not.toBeNull();
  }
  expect(failed).toEqual([]);
});
