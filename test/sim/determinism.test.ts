import { describe, expect, test } from "bun:test";
import { runSimulation } from "../../src/sim/simulation.ts";

describe("a seed replays a run exactly", () => {
  test("two runs of one seed have the same trace, hash and outcome", () => {
    const first = runSimulation({ seed: 4242, keepTrace: true });
    const second = runSimulation({ seed: 4242, keepTrace: true });
    expect(second.traceHash).toBe(first.traceHash);
    expect(second.traceLines).toEqual(first.traceLines);
    expect(second.events).toBe(first.events);
    expect(second.endUs).toBe(first.endUs);
    expect(second.violations).toEqual(first.violations);
    expect(first.traceLines.length).toBeGreaterThan(100);
  });

  test("different seeds give different runs", () => {
    const hashes = new Set([1, 2, 3, 4, 5, 6, 7, 8].map((seed) => runSimulation({ seed }).traceHash));
    expect(hashes.size).toBe(8);
  });

  test("the hash covers every line: a run that differs in one event has another hash", () => {
    // Same seed, one follower fewer: the scenario and every later draw shift.
    expect(runSimulation({ seed: 4242, followers: 4 }).traceHash).not.toBe(runSimulation({ seed: 4242 }).traceHash);
  });

  test("trace lines are printable one per event, time first", () => {
    const lines: string[] = [];
    runSimulation({ seed: 11, onTraceLine: (line) => lines.push(line) });
    expect(lines[0]).toMatch(/^ +0\.000ms L1 recovering: fences 5 followers$/);
    expect(lines).toContainEqual(expect.stringMatching(/ L1 serves: e\d+ applied=0 last=0 readBarrier=0$/));
    for (const line of lines) expect(line).toMatch(/^ +\d+\.\d{3}ms \S/);
  });
});
