import { describe, expect, test } from "bun:test";
import { type MutantName, mutants } from "../../src/sim/mutants.ts";
import { type RunResult, runSimulation } from "../../src/sim/simulation.ts";

function firstCaught(mutant: MutantName): RunResult | undefined {
  const { firstSeed = 1, seedsTried } = mutants[mutant];
  for (let seed = firstSeed; seed < firstSeed + seedsTried; seed++) {
    const result = runSimulation({ seed, mutant });
    if (result.violations.some((violation) => violation.invariant === mutants[mutant].breaks)) return result;
  }
  return undefined;
}

describe("every invariant catches a core (or recovery) broken on purpose", () => {
  for (const [name, mutant] of Object.entries(mutants) as [MutantName, (typeof mutants)[MutantName]][]) {
    test(`${name} breaks ${mutant.breaks}`, () => {
      const caught = firstCaught(name);
      expect(caught).toBeDefined();
      const { seed } = caught!;
      expect(caught!.replayCommand).toBe(`bun run sim --seed ${seed} --mutant ${name}`);
      // The seed replays the failure exactly, and the simulated code passes the same run.
      const replay = runSimulation({ seed, mutant: name });
      expect(replay.traceHash).toBe(caught!.traceHash);
      expect(replay.violations).toEqual(caught!.violations);
      const leaderRestarts = mutant.needsLeaderRestarts ? "always" : "some";
      expect(runSimulation({ seed, leaderRestarts }).violations).toEqual([]);
    });
  }
});
