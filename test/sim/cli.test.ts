import { describe, expect, test } from "bun:test";
import { join } from "node:path";

const mainPath = join(import.meta.dir, "../../src/sim/main.ts");

function sim(...args: string[]) {
  const run = Bun.spawnSync([process.execPath, mainPath, ...args], { stdout: "pipe", stderr: "pipe" });
  return { exitCode: run.exitCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
}

describe("bun run sim", () => {
  test("--seed replays one seed with one trace line per event and exits 0 when it holds", () => {
    const run = sim("--seed", "2");
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/^ +0\.000ms L1 recovering: fences 5 followers\n +0\.000ms L1 #1 → f0 fence e1\n/);
    expect(run.stdout).toMatch(/\nseed 2\nfollowers=5 /);
    expect(run.stdout).toMatch(/\nok: converged [\d.]+ms after quiet, every invariant held\n$/);
  });

  test("--seeds runs a range and reports seeds per second", () => {
    const run = sim("--seeds", "3", "--start", "10");
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(
      /^faults injected: crashes=\d+ partitions=\d+ oneWayPartitions=\d+ pauses=\d+ deposedMessages=\d+ quorumChanges=\d+ clockSteps=\d+ adversarialMessages=\d+ dropped=\d+ duplicated=\d+ slowed=\d+; snapshots installed: \d+\n/,
    );
    expect(run.stdout).toMatch(
      /\nleader processes: leaderCrashes=\d+ leaderDeposals=\d+ recoveries=\d+ takeovers=\d+ in \d+ seeds with leader faults; outside the contract \(a corrupt record lost synced entries\): \d+\n/,
    );
    expect(run.stdout).toMatch(/\n3 seeds \(10…12\), 0 failed, \d+ events in [\d.]+s: [\d.]+ seeds\/s, \d+ events\/s\n$/);
  });

  test("a failing seed exits 1 and prints the command that replays it", () => {
    const run = sim("--seeds", "2", "--start", "1", "--mutant", "follower-applies-before-commit");
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toContain("FAILED seed 1: visibility");
    expect(run.stdout).toContain("replay: bun run sim --seed 1 --mutant follower-applies-before-commit\n");
    const replay = sim("--seed", "1", "--mutant", "follower-applies-before-commit", "--quiet");
    expect(replay.exitCode).toBe(1);
    expect(replay.stdout).toContain("FAILED seed 1:\n  visibility at ");
  });

  test("bad arguments exit 2 with one line naming the flag", () => {
    const run = sim("--seed", "x");
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toBe('sim: --seed must be a number, got "x" (see --help)\n');
    expect(sim("--seeds", "1", "--mutant", "nope").exitCode).toBe(2);
    expect(sim("--seeds", "1", "--leader-restarts", "often").exitCode).toBe(2);
  });

  test("options that change the run appear in the replay command", () => {
    const run = sim("--seeds", "3", "--start", "1", "--leader-restarts", "always", "--mutant", "follower-applies-before-commit");
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/replay: bun run sim --seed \d+ --leader-restarts always --mutant follower-applies-before-commit\n/);
  });
});
