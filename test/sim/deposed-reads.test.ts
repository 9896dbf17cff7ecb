import { expect, test } from "bun:test";
import { runSimulation } from "../../src/sim/simulation.ts";

// A deposed leader that has not heard of its successor yet keeps getting reads from clients on an
// old connection (on by default in every run). Before ReadIndex it served them from its own state,
// stale once its successor acknowledged newer writes (seed 1353 caught it then). Now a leader
// confirms that it leads before it serves a read, and the run passes; a leader that skips the
// confirmation (the leader-reads-unconfirmed mutant) fails it again. The seed is 5489 since
// followers' processes can die alone, leaving their page cache, which moved every schedule (2482
// before, and 81 before the nodes' disks ran DiskStorage on simulated files).
test("a deposed leader's reads are confirmed or refused, never stale", () => {
  const seed = 5489;
  const run = runSimulation({ seed, leaderRestarts: "always" });
  expect(run.violations).toEqual([]);
  expect(run.workload.leaderReadsStale).toBeGreaterThan(0); // reads it could not confirm were refused, not served
  const mutant = runSimulation({ seed, leaderRestarts: "always", mutant: "leader-reads-unconfirmed" });
  expect(mutant.violations.map((violation) => violation.invariant)).toContain("linearizability");
  expect(runSimulation({ seed, leaderRestarts: "always", deposedReads: false }).replayCommand).toBe(
    `bun run sim --seed ${seed} --leader-restarts always --no-deposed-reads`,
  );
});
