import { describe, expect, test } from "bun:test";
import { electionMutants, type ElectionMutantName } from "../../src/sim/election-mutants.ts";
import { runElectionSimulation } from "../../src/sim/election-sim.ts";

// Elections in simulation (src/sim/election-sim.ts): production PeerNodes fail over through crash
// loops, partitions, competing candidates, quorum changes and step-downs; each invariant has a
// mutant that breaks it, and the simulator must catch it.

const seeds = 120;

describe("election scenarios", () => {
  test(`${seeds} seeds: one leader per epoch, committed entries agree, nothing acknowledged lost, linearizable, converged`, () => {
    const totals = { chaos: 0, rejoin: 0, leaderships: 0, crashes: 0, partitions: 0, quorumChanges: 0, stepDowns: 0, writes: 0 };
    for (let seed = 1; seed <= seeds; seed++) {
      const result = runElectionSimulation({ seed });
      expect({ seed, violations: result.violations }).toEqual({ seed, violations: [] });
      totals[result.family]++;
      for (const key of ["leaderships", "crashes", "partitions", "quorumChanges", "stepDowns"] as const) totals[key] += result.stats[key];
      totals.writes += result.clients.writes;
    }
    // The runs met what they are for: many leaderships (a few per chaos run), both families.
    expect(totals.rejoin).toBeGreaterThan(seeds / 10);
    expect(totals.leaderships).toBeGreaterThan(3 * totals.chaos);
    for (const key of ["crashes", "partitions", "quorumChanges", "stepDowns", "writes"] as const)
      expect({ key, total: totals[key] > seeds / 4 }).toEqual({ key, total: true });
  });

  test("a seed replays exactly", () => {
    const first = runElectionSimulation({ seed: 7 });
    expect(runElectionSimulation({ seed: 7 }).traceHash).toBe(first.traceHash);
    expect(runElectionSimulation({ seed: 8 }).traceHash).not.toBe(first.traceHash);
  });

  for (const [name, mutant] of Object.entries(electionMutants)) {
    test(`mutant ${name} (${mutant.description}) is caught`, () => {
      let caught: string[] | null = null;
      for (let seed = 1; seed <= mutant.seedsTried && caught === null; seed++) {
        const violations = runElectionSimulation({ seed, mutant: name as ElectionMutantName }).violations.map((violation) => violation.invariant);
        if (violations.length > 0) caught = violations;
      }
      expect(caught).not.toBeNull();
      expect(caught!.some((invariant) => (mutant.breaks as readonly string[]).includes(invariant))).toBe(true);
    });
  }
});
