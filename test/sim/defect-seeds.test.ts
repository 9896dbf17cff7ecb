import { expect, test } from "bun:test";
import { runSimulation } from "../../src/sim/simulation.ts";

// Issue 11's defects 2 and 4, each a mutant of the production code path caught by a named seed
// (src/sim/README.md). Each seed is shown to fail with the mutant on the invariant named, and to
// pass without it, with the targeted fault that sets up the defect's schedule in the trace.

const invariantsOf = (run: ReturnType<typeof runSimulation>) => new Set(run.violations.map((violation) => violation.invariant));

test("defect 2: a follower left holding applied writes a lossy recovery abandoned is diverged and repaired, not counted", () => {
  const seed = 37;
  const lines: string[] = [];
  const run = runSimulation({ seed, leaderRestarts: "always", onTraceLine: (line) => lines.push(line) });
  expect(run.violations).toEqual([]);
  expect(run.scenario.writeQuorum).toBe(0);
  expect(run.targeted).toMatchObject({ crashesLeavingOneAhead: 1, historyForks: 1 });
  const ahead = lines.map((line) => /targeted fault: the leader crashes while (f\d) alone applied/.exec(line)?.[1]).find(Boolean)!;
  expect(ahead).toBeDefined();
  // It answers the new leader "diverged", then a snapshot repairs it (the run converges: every invariant held).
  const diverged = lines.findIndex((line) => new RegExp(`← ${ahead} #\\d+ gap last=\\d+ i\\d+ diverged$`).test(line));
  expect(diverged).toBeGreaterThan(-1);
  expect(lines.slice(diverged)).toContainEqual(expect.stringMatching(new RegExp(` ${ahead}: installed snapshot at offset \\d+$`)));
  const mutant = runSimulation({ seed, mutant: "follower-trusts-applied" });
  expect(invariantsOf(mutant)).toContain("counted-holds");
  expect(mutant.replayCommand).toBe(`bun run sim --seed ${seed} --mutant follower-trusts-applied`);
});

test("defect 4: recovery goes on without a chosen source that stalls while four others answer", () => {
  const seed = 19;
  const lines: string[] = [];
  const run = runSimulation({ seed, leaderRestarts: "always", onTraceLine: (line) => lines.push(line) });
  expect(run.violations).toEqual([]);
  expect(run.targeted.stalledFetches).toBe(1);
  expect(lines).toContainEqual(expect.stringMatching(/recovery: fetching the data of f\d failed \(.*\); trying the next most advanced/));
  const mutant = runSimulation({ seed, mutant: "recovery-stalls-on-source" });
  expect(invariantsOf(mutant)).toContain("recovery-liveness");
  expect(mutant.replayCommand).toBe(`bun run sim --seed ${seed} --mutant recovery-stalls-on-source`);
});
